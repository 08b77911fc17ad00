#!/usr/bin/env bash
# TLS and tokens (issue 11, "Security"), every part a real process on
# loopback: weir-featurestore and weir-coordinator serve gRPC over mutual TLS
# (a CA and certificates made here with openssl) and check bearer tokens;
# weir-worker connects to both with its client certificate and a `worker`
# token; weirctl with each role's token.
#  - the job runs: the worker registers, heartbeats and writes over TLS;
#  - a plaintext client, and a TLS client without a certificate, are refused;
#  - the HTTP status ports serve HTTPS only (--metrics-tls);
#  - roles: no token and an unknown token are UNAUTHENTICATED; a reader
#    cannot cancel, an admin cannot import, a worker cannot submit, a reader
#    reads features; w1's token (worker:w1) cannot register a worker w2;
#  - the epoch attack with tokens: an import without a token or with the
#    admin's is refused; with the importer's it is a backfill that does not
#    fence the job, which keeps writing.
#   secure_cluster_test.sh WEIRCTL DEVKAFKA FEATURESTORE COORDINATOR WORKER
set -euo pipefail
weirctl=$1
devkafka=$2
featurestore=$3
coordinator=$4
worker=$5
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib.sh"
command -v kcat >/dev/null || fail "kcat is not installed (scripts/setup.sh installs it)"
command -v openssl >/dev/null || fail "openssl is not installed"

# ---- A CA, a server certificate for 127.0.0.1, a client certificate ----
pki=$tmp/pki
mkdir -p "$pki"
(
  cd "$pki"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=weir-test-ca
  openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=localhost
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > server.ext
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 \
    -extfile server.ext
  openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj /CN=weir-client
  openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 2
) > "$tmp/openssl.out" 2>&1 || fail "openssl: $(cat "$tmp/openssl.out")"
printf '# token role[,role...]\nt-admin admin\nt-worker worker:w1\nt-reader reader\nt-importer importer\n' \
  > "$tmp/tokens"
for role in admin worker reader importer; do echo "t-$role" > "$tmp/$role.token"; done
echo "t-nobody" > "$tmp/unknown.token"
server_tls=(--tls-cert "$pki/server.pem" --tls-key "$pki/server.key" --tls-client-ca "$pki/ca.pem"
  --tokens-file "$tmp/tokens" --metrics-tls)

start_devkafka "$devkafka" --brokers 1 --topic events:1
bootstrap=$kafka
"$featurestore" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --data-dir "$tmp/store" "${server_tls[@]}" \
  > "$tmp/store.out" 2> "$tmp/store.log" &
track $!
store=$(wait_for_line "$tmp/store.out" "weir-featurestore listening on " $!)
store_http=$(wait_for_line "$tmp/store.out" "weir-featurestore metrics on " $!)
"$coordinator" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --data-dir "$tmp/coordinator" "${server_tls[@]}" \
  > "$tmp/coordinator.out" 2> "$tmp/coordinator.log" &
track $!
coord=$(wait_for_line "$tmp/coordinator.out" "weir-coordinator listening on " $!)
coord_http=$(wait_for_line "$tmp/coordinator.out" "weir-coordinator metrics on " $!)
export WEIR_COORDINATOR=$coord WEIR_STORE=$store
export WEIR_TLS_CA=$pki/ca.pem WEIR_TLS_CERT=$pki/client.pem WEIR_TLS_KEY=$pki/client.key
WEIR_TOKEN_FILE=$tmp/worker.token "$worker" --id w1 --coordinator "$coord" --metrics-listen 127.0.0.1:0 \
  --data-dir "$tmp/w1" > "$tmp/w1.out" 2> "$tmp/w1.log" &
track $!
wait_for_line "$tmp/w1.out" "weir-worker w1 metrics on " $! > /dev/null

# as ROLE COMMAND...: weirctl with ROLE's token (over mutual TLS).
as() {
  local role=$1
  shift
  WEIR_TOKEN_FILE=$tmp/$role.token "$weirctl" "$@"
}

cat > "$tmp/job.yaml" <<YAML
name: ej
source:
  kafka: { brokers: "$bootstrap", topic: events, start: earliest }
key: user_id
event_time: { field: ts, unit: ms }
watermark: { max_out_of_orderness: 1s }
view: ej
features:
  - { name: n_1m, agg: count, window: { tumbling: 1m } }
sink: { feature_store: "$store" }
YAML
as admin submit "$tmp/job.yaml" > "$tmp/submit.out" 2>&1 || fail "submit as admin: $(cat "$tmp/submit.out")"

t0=1699999980000 # a minute boundary
produce() {
  local key=$1
  shift
  for m in "$@"; do echo "$key:{\"user_id\":\"$key\",\"ts\":$((t0 + m * 60000 + 1000))}"; done |
    timeout 30 kcat -b "$bootstrap" -P -t events -K: || fail "kcat produce failed"
}
wait_for_row() {
  for _ in $(seq 120); do
    as reader features get --view ej --key "$1" > "$tmp/get" 2>&1 || true
    grep -q "\"key\":\"$1\"" "$tmp/get" && return 0
    sleep 0.25
  done
  fail "no row of key $1 within 30 s: $(cat "$tmp/get"); $(as admin events --job ej 2>&1)"
}
produce a 0 1
wait_for_row a
echo "TLS: the worker registered, heartbeats and writes over mutual TLS with its worker token"

# ---- TLS refusals ----
expect_exit 1 "$tmp/plain.out" env WEIR_TLS_CA= WEIR_TLS_CERT= WEIR_TLS_KEY= WEIR_TOKEN_FILE="$tmp/admin.token" \
  "$weirctl" list
grep -q "cannot reach the coordinator" "$tmp/plain.out" || fail "plaintext list: $(cat "$tmp/plain.out")"
expect_exit 1 "$tmp/plain-store.out" env WEIR_TLS_CA= WEIR_TLS_CERT= WEIR_TLS_KEY= \
  WEIR_TOKEN_FILE="$tmp/reader.token" "$weirctl" features get --view ej --key a
expect_exit 1 "$tmp/nocert.out" env WEIR_TLS_CERT= WEIR_TLS_KEY= WEIR_TOKEN_FILE="$tmp/admin.token" "$weirctl" list
echo "TLS: plaintext clients and clients without a certificate are refused"

# ---- HTTPS status ports (--metrics-tls) ----
for http in "$coord_http" "$store_http"; do
  [ "$(curl -sS --cacert "$pki/ca.pem" "https://$http/readyz")" = "ready" ] || fail "https://$http/readyz not ready"
  curl -sS --cacert "$pki/ca.pem" "https://$http/metrics" | grep -q '^weir_security_enabled{feature="tls"} 1' ||
    fail "https://$http/metrics lacks weir_security_enabled{feature=\"tls\"} 1"
  ! curl -sS --max-time 5 "http://$http/healthz" > "$tmp/plain-http.out" 2>&1 ||
    fail "plain HTTP answered on the HTTPS port $http: $(cat "$tmp/plain-http.out")"
done
echo "HTTPS: the status ports serve /readyz and /metrics over TLS only"

# ---- Roles ----
expect_exit 2 "$tmp/none.out" "$weirctl" list
grep -q "JobService.ListJobs needs a bearer token" "$tmp/none.out" || fail "no token: $(cat "$tmp/none.out")"
expect_exit 2 "$tmp/unknown.out" as unknown list
grep -q "not one this server knows" "$tmp/unknown.out" || fail "unknown token: $(cat "$tmp/unknown.out")"
expect_exit 2 "$tmp/cancel.out" as reader cancel ej
grep -q "JobService.CancelJob needs a token with the role admin; this token has reader" "$tmp/cancel.out" ||
  fail "reader cancel: $(cat "$tmp/cancel.out")"
expect_exit 2 "$tmp/wsubmit.out" as worker submit "$tmp/job.yaml"
grep -q "needs a token with the role admin; this token has worker" "$tmp/wsubmit.out" ||
  fail "worker submit: $(cat "$tmp/wsubmit.out")"
as reader status ej > "$tmp/status.out" 2>&1 || fail "reader status: $(cat "$tmp/status.out")"
expect_exit 2 "$tmp/aget.out" as importer features get --view ej --key a
grep -q "FeatureStore.GetOnlineFeatures needs a token with the role reader" "$tmp/aget.out" ||
  fail "importer get: $(cat "$tmp/aget.out")"
# w1's token is bound to w1: another worker id cannot register with it.
WEIR_TOKEN_FILE=$tmp/worker.token "$worker" --id w2 --coordinator "$coord" --metrics-listen 127.0.0.1:0 \
  --data-dir "$tmp/w2" > "$tmp/w2.out" 2> "$tmp/w2.log" &
track $!
ok=0
for _ in $(seq 100); do
  grep -q 'ControlPlane.RegisterWorker as worker "w2" refused: this token may act only as worker "w1"' \
    "$tmp/w2.log" && { ok=1; break; }
  sleep 0.1
done
[ $ok -eq 1 ] || fail "w2 registered with w1's token: $(cat "$tmp/w2.log")"
as admin workers > "$tmp/workers.out" 2>&1 || fail "workers: $(cat "$tmp/workers.out")"
! grep -qw w2 "$tmp/workers.out" || fail "w2 is registered: $(cat "$tmp/workers.out")"
echo "roles: each method refuses the tokens without its role; a worker token acts only as its worker"

# ---- The epoch attack with tokens ----
echo "{\"view\":\"ej\",\"key\":\"a\",\"feature\":\"n_1m\",\"window_start\":$t0,\"window_end\":$((t0 + 60000)),\"revision\":0,\"value\":999}" \
  > "$tmp/row.jsonl"
expect_exit 2 "$tmp/anon-import.out" "$weirctl" features import --input "$tmp/row.jsonl" --writer ej --epoch 1000000
grep -q "FeatureSink.Import (a backfill) needs a bearer token" "$tmp/anon-import.out" ||
  fail "import without a token: $(cat "$tmp/anon-import.out")"
expect_exit 2 "$tmp/admin-import.out" as admin features import --input "$tmp/row.jsonl" --writer ej --epoch 1000000
grep -q "needs a token with the role importer; this token has admin" "$tmp/admin-import.out" ||
  fail "import as admin: $(cat "$tmp/admin-import.out")"
as reader features get --view ej --key a --feature n_1m > "$tmp/get" || fail "features get failed"
grep -q '"value":1,' "$tmp/get" || fail "a refused import changed the row: $(cat "$tmp/get")"
as importer features import --input "$tmp/row.jsonl" --writer ej --epoch 1000000 > "$tmp/import.out" 2>&1 ||
  fail "import as importer: $(cat "$tmp/import.out")"
produce b 2 3
wait_for_row b
as admin events --job ej > "$tmp/events"
! grep -q "partition-fenced" "$tmp/events" || fail "the job was fenced: $(cat "$tmp/events")"
echo "epoch attack with tokens: refused without the importer role; as an import it did not fence the job"
