#!/usr/bin/env bash
# Weir on a secured Apache Kafka: one broker with a SASL_SSL listener
# (scripts/kafka.sh --sasl-ssl: a generated CA, user `weir`). Jobs reach it
# only through source.kafka.properties, the password as a ${file:...}
# reference:
#  - "secure", with the right password, produces its rows: the store equals
#    `weirctl replay` of the topic;
#  - "locked", whose password file is wrong, shows the failure (authentication
#    named) in `weirctl status`, and recovers by itself once the file is
#    corrected: its rows then land too.
# Neither the coordinator's logs, nor `weirctl status --json`, nor the
# workers' logs contain the password.
#   secured_test.sh WEIRCTL FEATURESTORE COORDINATOR WORKER
set -euo pipefail
weirctl=$1
featurestore=$2
coordinator=$3
worker=$4
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$here/../integration/lib.sh"
command -v kcat >/dev/null || fail "kcat is not installed (scripts/setup.sh installs it)"
kafka="$root/scripts/kafka.sh"

"$kafka" start --brokers 1 --sasl-ssl --dir "$tmp/kafka" 2> "$tmp/kafka-start.log" || fail "kafka.sh start failed"
source "$tmp/kafka/env"
for pid in $KAFKA_PIDS; do track "$pid"; done
export KAFKA_BOOTSTRAP KAFKA_BROKERS
password=$(cat "$tmp/kafka/sasl-password")
"$kafka" topic events 2 1 2>> "$tmp/topic.log" || fail "creating events failed"

t0=1699999980000
for i in $(seq 0 299); do
  key="u$((i % 10))"
  echo "$key:{\"user_id\":\"$key\",\"ts\":$((t0 + i * 1000))}"
done | timeout 30 kcat -b "$KAFKA_BOOTSTRAP" -P -t events -K: || fail "kcat produce failed"

start_store "$featurestore"
start_coordinator "$coordinator"
export WEIR_COORDINATOR=$coord WEIR_STORE=$store
start_worker "$worker" w1

printf '%s\n' "$password" > "$tmp/secure.password"
echo "not-the-password" > "$tmp/locked.password"
for job in secure locked; do
  cat > "$tmp/$job.yaml" <<EOF
name: $job
source:
  kafka:
    brokers: "$KAFKA_SASL_BOOTSTRAP"
    topic: events
    start: earliest
    properties:
      security.protocol: SASL_SSL
      # Debian's librdkafka 2.0.2 cannot do SCRAM with Kafka 4 (docs/kafka.md).
      sasl.mechanism: PLAIN
      sasl.username: weir
      sasl.password: "\${file:$tmp/$job.password}"
      ssl.ca.location: "$KAFKA_CA"
key: user_id
event_time: { field: ts, unit: ms }
watermark: { max_out_of_orderness: 1s }
view: $job
features:
  - { name: n_1m, agg: count, window: { tumbling: 1m } }
sink: { feature_store: "$store" }
EOF
done

# The reference: the topic as Kafka holds it, replayed (the plaintext listener).
: > "$tmp/expected"
for p in 0 1; do
  timeout 30 kcat -b "$KAFKA_BOOTSTRAP" -C -t events -p $p -o beginning -e -f '%s\n' > "$tmp/p$p.jsonl" 2>/dev/null ||
    fail "kcat consume of partition $p failed"
  "$weirctl" replay --job "$tmp/secure.yaml" --input "$tmp/p$p.jsonl" --partition $p -q >> "$tmp/expected" ||
    fail "replay of partition $p failed"
done
sort "$tmp/expected" > "$tmp/expected.sorted"
[ "$(wc -l < "$tmp/expected.sorted")" -gt 10 ] || fail "the reference has only $(wc -l < "$tmp/expected.sorted") rows"

# wait_rows VIEW SECONDS: until the store's export of VIEW equals the reference (view renamed).
wait_rows() {
  for _ in $(seq $(($2 * 2))); do
    "$weirctl" features export --view "$1" --output "$tmp/export-$1" 2>/dev/null || true
    sed "s/\"view\":\"$1\"/\"view\":\"secure\"/" "$tmp/export-$1" 2>/dev/null | sort > "$tmp/export-$1.sorted" || true
    cmp -s "$tmp/export-$1.sorted" "$tmp/expected.sorted" && return 0
    kill -0 $worker_pid 2>/dev/null || fail "the worker exited"
    sleep 0.5
  done
  diff "$tmp/expected.sorted" "$tmp/export-$1.sorted" | head -10 >&2
  fail "job $1: the store's rows differ from the reference after $2 s (above: < reference, > store)"
}

"$weirctl" submit "$tmp/secure.yaml" > "$tmp/submit-secure.out" 2>&1 || fail "submit secure: $(cat "$tmp/submit-secure.out")"
wait_rows secure 60
echo "secure: $(wc -l < "$tmp/expected.sorted") rows over SASL_SSL, equal to replay"

"$weirctl" submit "$tmp/locked.yaml" > "$tmp/submit-locked.out" 2>&1 || fail "submit locked: $(cat "$tmp/submit-locked.out")"
ok=0
for _ in $(seq 60); do
  "$weirctl" status locked > "$tmp/locked.status" 2>&1 || true
  if grep -qi "authentication" "$tmp/locked.status"; then ok=1; break; fi
  sleep 0.5
done
[ $ok -eq 1 ] || fail "weirctl status locked does not name the authentication failure: $(cat "$tmp/locked.status")"
echo "locked: the failure shows in weirctl status: $(grep -i -m1 -o '[^:]*authentication[^;(]*' "$tmp/locked.status")"

printf '%s\n' "$password" > "$tmp/locked.password"
wait_rows locked 90
echo "locked: recovered once its password file was corrected"

"$weirctl" status secure --json > "$tmp/status.json" 2>&1 || true
for f in "$tmp/coordinator.log" "$tmp/w1.log" "$tmp/status.json" "$tmp/locked.status"; do
  if grep -qF "$password" "$f"; then fail "$(basename "$f") contains the password"; fi
done
echo "no log or status shows the password"

stop_gracefully $worker_pid weir-worker
stop_gracefully $coordinator_pid weir-coordinator
"$kafka" stop --dir "$tmp/kafka" || fail "kafka.sh stop failed"
echo "kafka secured: all checks passed"
