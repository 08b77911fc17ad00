#!/usr/bin/env bash
# A re-keyed job on a real Apache Kafka (one broker): the coordinator creates
# the repartition topic itself (CreateTopics, 3 partitions as the spec asks),
# stage 2 writes the job's rows, and once a checkpoint is committed the
# coordinator deletes the repartition topic's records below the oldest kept
# checkpoint (DeleteRecords): `weirctl status` says so (`trimmed:`), and
# Kafka's own GetOffsetShell shows each partition's earliest offset moved up.
#   rekey_trim_test.sh WEIRCTL FEATURESTORE COORDINATOR WORKER
set -euo pipefail
weirctl=$1
featurestore=$2
coordinator=$3
worker=$4
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$here/../integration/lib.sh"
source "$here/lib.sh"
command -v kcat >/dev/null || fail "kcat is not installed (scripts/setup.sh installs it)"
kafka="$root/scripts/kafka.sh"

start_kafka --brokers 1
"$kafka" topic events 2 1 2> "$tmp/topic.log" || fail "creating events failed"
start_store "$featurestore"
start_coordinator "$coordinator"
export WEIR_COORDINATOR=$coord WEIR_STORE=$store
start_worker "$worker" w1

# Partitioned by user_id (produce_users keys each record by it), keyed by shop.
cat > "$tmp/job.yaml" <<EOF
name: byshop
source:
  kafka: { brokers: "$KAFKA_BOOTSTRAP", topic: events, start: earliest }
  partitioned_by: user_id
repartition: { partitions: 3 }
key: shop
event_time: { field: ts, unit: ms }
watermark: { max_out_of_orderness: 1s }
view: byshop
features:
  - { name: n_1m, agg: count, window: { tumbling: 1m } }
sink: { feature_store: "$store" }
checkpoint: { interval: 1s, storage: "file://$tmp/checkpoints" }
EOF
"$weirctl" submit "$tmp/job.yaml" > "$tmp/submit.out" 2>&1 || fail "submit: $(cat "$tmp/submit.out")"

t0=1699999980000
for i in $(seq 0 599); do
  echo "u$((i % 10)):{\"user_id\":\"u$((i % 10))\",\"shop\":\"s$((i % 7))\",\"ts\":$((t0 + i * 1000))}"
done | timeout 30 kcat -b "$KAFKA_BOOTSTRAP" -P -t events -K: || fail "kcat produce failed"

# Rows of the closed minutes, for every shop.
ok=0
for _ in $(seq 120); do
  "$weirctl" features get --view byshop --key s0 --key s6 > "$tmp/rows.out" 2>&1 || true
  [ "$(grep -c n_1m "$tmp/rows.out")" -ge 2 ] && ok=1 && break
  sleep 0.5
done
[ $ok = 1 ] || fail "no rows of byshop for s0 and s6: $(cat "$tmp/rows.out")"

wait_status byshop "^trimmed: +records of weir.byshop.repartition deleted below checkpoint [0-9]+" 60
# Kafka's own view: the earliest offset of some repartition partition is past 0.
"$kafka" tool org.apache.kafka.tools.GetOffsetShell --bootstrap-server "$KAFKA_BOOTSTRAP" \
  --topic weir.byshop.repartition --time -2 > "$tmp/earliest.out" 2> "$tmp/offsets.log" ||
  fail "GetOffsetShell failed: $(cat "$tmp/offsets.log")"
[ "$(grep -c '^weir.byshop.repartition:' "$tmp/earliest.out")" -eq 3 ] ||
  fail "the repartition topic does not have the 3 partitions the spec asked for: $(cat "$tmp/earliest.out")"
awk -F: '$3 > 0 { moved = 1 } END { exit moved ? 0 : 1 }' "$tmp/earliest.out" ||
  fail "no partition's earliest offset moved: $(cat "$tmp/earliest.out"); status: $(cat "$tmp/byshop.status")"
echo "rekey trim test: ok ($(grep '^trimmed:' "$tmp/byshop.status")); earliest offsets $(tr '\n' ' ' < "$tmp/earliest.out")"
