#!/usr/bin/env bash
# A job whose topic is not partitioned by its key is noticed. Real processes on
# loopback: weir-devkafka (topic events, 2 partitions), weir-featurestore,
# weir-coordinator, one weir-worker running two jobs on the same records:
#  - "byuser", keyed by user_id, while both partitions carry the same users:
#    the store sees each user's rows from two partitions, so `weirctl status`
#    shows a key conflict with the hint to set source.partitioned_by, a
#    `key-conflict` event is logged, and the store counts the rows
#    (weir_store_key_conflict_rows_total);
#  - "byshard", keyed by shard, a field each partition has one value of: no
#    conflict, nothing shown.
#   key_conflict_test.sh WEIRCTL DEVKAFKA FEATURESTORE COORDINATOR WORKER
set -euo pipefail
weirctl=$1
devkafka=$2
featurestore=$3
coordinator=$4
worker=$5
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib.sh"
command -v kcat >/dev/null || fail "kcat is not installed (scripts/setup.sh installs it)"

start_devkafka "$devkafka" --brokers 1 --topic events:2
start_store "$featurestore"
store_metrics=$(wait_for_line "$tmp/store.out" "weir-featurestore metrics on " $store_pid)
start_coordinator "$coordinator"
export WEIR_COORDINATOR=$coord
start_worker "$worker" w1

for job in byuser byshard; do
  key=user_id
  [ $job = byshard ] && key=shard
  cat > "$tmp/$job.yaml" <<EOF
name: $job
source: { kafka: { brokers: "$kafka", topic: events, start: earliest } }
key: $key
event_time: { field: ts, unit: ms }
watermark: { max_out_of_orderness: 0s }
view: $job
features:
  - { name: n_1m, agg: count, window: { tumbling: 1m } }
sink: { feature_store: "$store" }
checkpoint: { interval: 10s, storage: "file://$tmp/checkpoints" }
EOF
  "$weirctl" submit "$tmp/$job.yaml" > "$tmp/submit-$job.out" 2>&1 || fail "submit $job: $(cat "$tmp/submit-$job.out")"
done

# Users u0..u9 in both partitions, in the first minute; then one record two
# minutes on in each partition, which closes that minute's windows.
for p in 0 1; do
  awk -v p="$p" 'BEGIN {
    for (i = 0; i < 10; i++) printf "{\"user_id\":\"u%d\",\"shard\":\"s%d\",\"ts\":%.0f}\n", i, p, 1700000000000 + i
    printf "{\"user_id\":\"tick%d\",\"shard\":\"s%d\",\"ts\":%.0f}\n", p, p, 1700000120000
  }' | timeout 60 kcat -b "$kafka" -P -t events -p "$p" || fail "kcat produce to partition $p failed"
done

ok=0
for _ in $(seq 300); do
  "$weirctl" status byuser > "$tmp/status-byuser.out" 2>&1 || true
  if grep -q "^key conflict: partition " "$tmp/status-byuser.out"; then
    ok=1
    break
  fi
  sleep 0.1
done
[ $ok = 1 ] || fail "no key conflict in weirctl status byuser: $(cat "$tmp/status-byuser.out")"
grep -q "source.partitioned_by" "$tmp/status-byuser.out" || fail "the status has no hint: $(cat "$tmp/status-byuser.out")"
grep -Eq 'key "u[0-9]" of view "byuser" also comes from partition [01]' "$tmp/status-byuser.out" ||
  fail "the status names no key: $(cat "$tmp/status-byuser.out")"

ok=0
for _ in $(seq 100); do
  "$weirctl" events --job byuser > "$tmp/events.out" 2>&1 || true
  grep -q "key-conflict" "$tmp/events.out" && ok=1 && break
  sleep 0.1
done
[ $ok = 1 ] || fail "no key-conflict event: $(cat "$tmp/events.out")"
conflict_rows=$(http_body "$store_metrics" /metrics | sed -n 's/^weir_store_key_conflict_rows_total //p' | awk '{print $1 + 0}')
[ "${conflict_rows:-0}" -ge 10 ] || fail "weir_store_key_conflict_rows_total is ${conflict_rows:-0}, want at least 10"

# byshard: its rows are written (both shards' windows closed) and none conflicts.
ok=0
for _ in $(seq 300); do
  "$weirctl" --store "$store" features get --view byshard --key s0 --key s1 > "$tmp/byshard.out" 2>&1 || true
  [ "$(grep -c 'n_1m' "$tmp/byshard.out")" -ge 2 ] && ok=1 && break
  sleep 0.1
done
[ $ok = 1 ] || fail "byshard wrote no rows for s0 and s1: $(cat "$tmp/byshard.out")"
"$weirctl" status byshard > "$tmp/status-byshard.out" 2>&1 || fail "status byshard: $(cat "$tmp/status-byshard.out")"
if grep -q "key conflict" "$tmp/status-byshard.out"; then
  fail "byshard shows a key conflict: $(cat "$tmp/status-byshard.out")"
fi
"$weirctl" events --job byshard > "$tmp/events-byshard.out" 2>&1 || true
if grep -q "key-conflict" "$tmp/events-byshard.out"; then fail "byshard has a key-conflict event"; fi
echo "key conflict test: ok (byuser: $conflict_rows conflicting rows; byshard: none)"
