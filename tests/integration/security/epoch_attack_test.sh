#!/usr/bin/env bash
# Fencing cannot be claimed from outside (issue 11, finding 2), on a cluster
# without tokens, every part a real process on loopback: weir-devkafka,
# weir-featurestore, weir-coordinator, one weir-worker running job "ej".
#  - `weirctl features import --writer ej --epoch 1000000` is a backfill in
#    the importers' own namespace: the job's partition is not fenced, and the
#    job keeps writing (a window that closes after the import reaches the
#    store; no partition-fenced event).
#  - the daemons start without TLS and tokens, warning in their logs and
#    with weir_security_enabled{feature} at 0;
#  - --epoch and the other integer flags are parsed strictly: -1, trailing
#    junk and overflow are usage errors (exit 2) naming the flag, and write
#    nothing.
#   epoch_attack_test.sh WEIRCTL DEVKAFKA FEATURESTORE COORDINATOR WORKER
set -euo pipefail
weirctl=$1
devkafka=$2
featurestore=$3
coordinator=$4
worker=$5
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib.sh"
command -v kcat >/dev/null || fail "kcat is not installed (scripts/setup.sh installs it)"

start_devkafka "$devkafka" --brokers 1 --topic events:1
bootstrap=$kafka
"$featurestore" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --data-dir "$tmp/store" \
  > "$tmp/store.out" 2> "$tmp/store.log" &
track $!
store=$(wait_for_line "$tmp/store.out" "weir-featurestore listening on " $!)
store_http=$(wait_for_line "$tmp/store.out" "weir-featurestore metrics on " $!)
"$coordinator" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --data-dir "$tmp/coordinator" \
  > "$tmp/coordinator.out" 2> "$tmp/coordinator.log" &
track $!
coord=$(wait_for_line "$tmp/coordinator.out" "weir-coordinator listening on " $!)
export WEIR_COORDINATOR=$coord WEIR_STORE=$store
# Without TLS and tokens the daemons start, and say so: a warning and a gauge.
for daemon in store coordinator; do
  grep -q "serves gRPC without TLS" "$tmp/$daemon.log" || fail "no TLS warning in the $daemon's log"
  grep -q "runs without tokens" "$tmp/$daemon.log" || fail "no tokens warning in the $daemon's log"
done
http_body "$store_http" /metrics | grep -q '^weir_security_enabled{feature="auth"} 0' ||
  fail "the store's /metrics lacks weir_security_enabled{feature=\"auth\"} 0"

"$worker" --id w1 --coordinator "$coord" --metrics-listen 127.0.0.1:0 --data-dir "$tmp/w1" \
  > "$tmp/w1.out" 2> "$tmp/w1.log" &
track $!
wait_for_line "$tmp/w1.out" "weir-worker w1 metrics on " $! > /dev/null

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
"$weirctl" submit "$tmp/job.yaml" > "$tmp/submit.out" 2>&1 || fail "submit: $(cat "$tmp/submit.out")"

t0=1699999980000 # a minute boundary
# produce KEY MINUTE...: one event of KEY in each minute after t0.
produce() {
  local key=$1
  shift
  for m in "$@"; do echo "$key:{\"user_id\":\"$key\",\"ts\":$((t0 + m * 60000 + 1000))}"; done |
    timeout 30 kcat -b "$bootstrap" -P -t events -K: || fail "kcat produce failed"
}
# wait_for_row KEY: waits (bounded) until the store has a row of KEY.
wait_for_row() {
  for _ in $(seq 120); do
    "$weirctl" features get --view ej --key "$1" > "$tmp/get" 2>&1 || true
    grep -q "\"key\":\"$1\"" "$tmp/get" && return 0
    sleep 0.25
  done
  fail "no row of key $1 within 30 s (is the partition fenced?): $(cat "$tmp/get"); $("$weirctl" events --job ej)"
}

# The job writes: key a's minute 0 closes when minute 1 arrives.
produce a 0 1
wait_for_row a

# One row overwriting key a's minute 0, as an attacker (or a careless backfill) would write it.
echo "{\"view\":\"ej\",\"key\":\"a\",\"feature\":\"n_1m\",\"window_start\":$t0,\"window_end\":$((t0 + 60000)),\"revision\":0,\"value\":999}" \
  > "$tmp/row.jsonl"

# ---- Strict parsing: nothing is written ----
expect_exit 2 "$tmp/neg.out" "$weirctl" features import --input "$tmp/row.jsonl" --writer ej --epoch -1
grep -q -- '--epoch "-1" is negative' "$tmp/neg.out" || fail "--epoch -1: $(cat "$tmp/neg.out")"
expect_exit 2 "$tmp/junk.out" "$weirctl" features import --input "$tmp/row.jsonl" --epoch 12abc
grep -q -- '--epoch "12abc" has trailing characters "abc"' "$tmp/junk.out" || fail "--epoch 12abc: $(cat "$tmp/junk.out")"
expect_exit 2 "$tmp/big.out" "$weirctl" features import --input "$tmp/row.jsonl" --epoch 18446744073709551616
grep -q -- 'is out of range' "$tmp/big.out" || fail "--epoch 2^64: $(cat "$tmp/big.out")"
expect_exit 2 "$tmp/rows.out" "$weirctl" features import --input "$tmp/row.jsonl" --batch-rows 0
grep -q -- '--batch-rows "0" is out of range' "$tmp/rows.out" || fail "--batch-rows 0: $(cat "$tmp/rows.out")"
expect_exit 2 "$tmp/asof.out" "$weirctl" features get --view ej --key a --as-of 1e12
grep -q -- '--as-of "1e12" has trailing characters' "$tmp/asof.out" || fail "--as-of 1e12: $(cat "$tmp/asof.out")"
"$weirctl" features get --view ej --key a --feature n_1m > "$tmp/get" || fail "features get failed"
grep -q '"value":1,' "$tmp/get" || fail "a refused import changed the row: $(cat "$tmp/get")"
echo "strict parsing: -1, junk, overflow and 0 rows refused, nothing written"

# ---- The attack: an import claiming the job's identity at a huge epoch ----
"$weirctl" features import --input "$tmp/row.jsonl" --writer ej --epoch 1000000 > "$tmp/import.out" 2>&1 ||
  fail "the import (a backfill) was refused: $(cat "$tmp/import.out")"
# The job keeps writing: key b's minute 2 closes when minute 3 arrives.
produce b 2 3
wait_for_row b
"$weirctl" events --job ej > "$tmp/events"
! grep -q "partition-fenced" "$tmp/events" || fail "the job was fenced: $(cat "$tmp/events")"
echo "epoch attack: the import did not fence job ej; it keeps writing"
