#!/usr/bin/env bash
# A large window close never stops a worker (issue 11, finding 1), every part
# a real process on loopback with default limits: weir-devkafka,
# weir-featurestore (4 MiB gRPC messages), weir-coordinator and one
# weir-worker running two jobs on one store:
#  - "big": 50k keys x 2 features on one partition; one window closes and
#    emits 100k rows at once (about 5 MB of rows, more than one gRPC
#    message may carry). All 100k rows must land in the store.
#  - "small": submitted next to it; its rows written after the big close
#    must land too (the writer is not stuck on the big batch).
#   large_window_test.sh WEIRCTL DEVKAFKA FEATURESTORE COORDINATOR WORKER
set -euo pipefail
weirctl=$1
devkafka=$2
featurestore=$3
coordinator=$4
worker=$5
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib.sh"
command -v kcat >/dev/null || fail "kcat is not installed (scripts/setup.sh installs it)"

start_devkafka "$devkafka" --brokers 1 --topic big:1 --topic small:1

"$featurestore" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --data-dir "$tmp/store" \
  > "$tmp/store.out" 2> "$tmp/store.log" &
track $!
store=$(wait_for_line "$tmp/store.out" "weir-featurestore listening on " $!)

"$coordinator" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --data-dir "$tmp/coordinator" \
  > "$tmp/coordinator.out" 2> "$tmp/coordinator.log" &
coordinator_pid=$!
track $coordinator_pid
coord=$(wait_for_line "$tmp/coordinator.out" "weir-coordinator listening on " $coordinator_pid)
export WEIR_COORDINATOR=$coord WEIR_STORE=$store

"$worker" --id w1 --coordinator "$coord" --metrics-listen 127.0.0.1:0 --data-dir "$tmp/w1" \
  > "$tmp/w1.out" 2> "$tmp/w1.log" &
worker_pid=$!
track $worker_pid
metrics_at=$(wait_for_line "$tmp/w1.out" "weir-worker w1 metrics on " $worker_pid)

for job in big small; do
  cat > "$tmp/$job.yaml" <<YAML
name: $job
source:
  kafka: { brokers: "$kafka", topic: $job, start: earliest }
key: user_id
event_time: { field: ts, unit: ms }
watermark: { max_out_of_orderness: 0s }
view: $job
features:
  - { name: n_1m, agg: count, window: { tumbling: 1m } }
  - { name: amount_1m, agg: sum, field: amount, window: { tumbling: 1m } }
sink: { feature_store: "$store" }
YAML
  "$weirctl" submit "$tmp/$job.yaml" > "$tmp/submit-$job.out" 2>&1 || fail "submit $job: $(cat "$tmp/submit-$job.out")"
done

t0=1700000040000  # a minute boundary
# 50k keys in one window, then a record of the next window that closes it.
awk -v t0=$t0 'BEGIN {
  for (i = 0; i < 50000; i++) printf "{\"user_id\":\"user-%05d\",\"ts\":%.0f,\"amount\":%d}\n", i, t0 + i, i % 7
  printf "{\"user_id\":\"tick\",\"ts\":%.0f,\"amount\":0}\n", t0 + 60000
}' > "$tmp/big.jsonl"
timeout 60 kcat -b "$kafka" -P -t big -p 0 < "$tmp/big.jsonl" || fail "kcat produce to big failed"

# rows_in VIEW: how many rows the store holds for VIEW.
rows_in() {
  "$weirctl" features export --view "$1" --output "$tmp/export-$1" > /dev/null 2>&1 || true
  wc -l < "$tmp/export-$1" 2> /dev/null || echo 0
}

# The small job writes once big's window has closed (every record of big
# consumed): its rows must land.
ok=0
for _ in $(seq 300); do
  consumed=$(http_body "$metrics_at" /metrics | sed -n 's/^weir_worker_records_in_total{job="big",partition="0"} //p')
  [ "${consumed:-0}" = 50001 ] && { ok=1; break; }
  kill -0 $worker_pid 2>/dev/null || fail "the worker exited"
  sleep 0.1
done
[ $ok -eq 1 ] || fail "job big consumed ${consumed:-0} records within 30 s, want 50001"
printf '{"user_id":"s1","ts":%d,"amount":1}\n{"user_id":"tick","ts":%d,"amount":0}\n' $t0 $((t0 + 60000)) |
  timeout 30 kcat -b "$kafka" -P -t small -p 0 || fail "kcat produce to small failed"

# Bounded waits: 40 s for both.
deadline=$(($(date +%s) + 40))
big_rows=0
small_rows=0
while [ "$(date +%s)" -lt $deadline ]; do
  kill -0 $worker_pid 2>/dev/null || fail "the worker exited"
  small_rows=$(rows_in small)
  big_rows=$(rows_in big)
  [ "$big_rows" -eq 100000 ] && [ "$small_rows" -eq 2 ] && break
  sleep 0.5
done
http_body "$metrics_at" /metrics | grep -E '^weir_worker_(records_in|rows_out|sink|dead)' > "$tmp/worker-metrics.log" || true
[ "$small_rows" -eq 2 ] || fail "job small: $small_rows rows in the store, want 2 (its writes are stuck behind job big)"
[ "$big_rows" -eq 100000 ] || fail "job big: $big_rows rows in the store, want 100000 (the window close was refused)"
grep -q '"key":"user-49999","feature":"n_1m".*"value":1,' "$tmp/export-big" || fail "user-49999's n_1m is not 1"
if grep -q "larger than max" "$tmp/w1.log"; then fail "the store refused a message as too large"; fi
echo "large window: 100000 rows of job big and job small's rows in the store"

stop_gracefully $worker_pid weir-worker
stop_gracefully $coordinator_pid weir-coordinator
echo "large window: all checks passed"
