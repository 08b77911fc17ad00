#!/usr/bin/env bash
# Failures flow back, every part a real process on loopback: two
# weir-devkafkas, weir-featurestore, weir-coordinator and one weir-worker
# running two jobs, "doomed" on the first Kafka and "healthy" on the second.
# Once both run, the first Kafka is killed (the coordinator discovered the
# partitions before, so only the worker can see the loss):
#  - within a few seconds doomed's partitions are `failed` on the worker's
#    /metrics (weir_worker_partition_state), with a reason naming the topic
#    and the brokers in the worker's log, and in `weirctl status --json`;
#  - `weirctl checkpoint` of that job is refused, naming the failed partition;
#  - healthy keeps running and consumes what is produced after.
#   partition_failure_test.sh WEIRCTL DEVKAFKA FEATURESTORE COORDINATOR WORKER
set -euo pipefail
weirctl=$1
devkafka=$2
featurestore=$3
coordinator=$4
worker=$5
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib.sh"
command -v kcat >/dev/null || fail "kcat is not installed (scripts/setup.sh installs it)"

declare -A kafka kafka_pid
for job in doomed healthy; do
  "$devkafka" --port 0 --brokers 1 --topic events:2 > "$tmp/kafka-$job.out" 2> "$tmp/kafka-$job.log" &
  kafka_pid[$job]=$!
  track $!
  kafka[$job]=$(wait_for_line "$tmp/kafka-$job.out" "weir-devkafka bootstrap " $!)
done

"$featurestore" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --data-dir "$tmp/store" \
  > "$tmp/store.out" 2> "$tmp/store.log" &
track $!
store=$(wait_for_line "$tmp/store.out" "weir-featurestore listening on " $!)

"$coordinator" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --data-dir "$tmp/coordinator" \
  > "$tmp/coordinator.out" 2> "$tmp/coordinator.log" &
coordinator_pid=$!
track $coordinator_pid
coord=$(wait_for_line "$tmp/coordinator.out" "weir-coordinator listening on " $coordinator_pid)
export WEIR_COORDINATOR=$coord

"$worker" --id w1 --coordinator "$coord" --metrics-listen 127.0.0.1:0 --data-dir "$tmp/w1" \
  > "$tmp/w1.out" 2> "$tmp/w1.log" &
worker_pid=$!
track $worker_pid
metrics_at=$(wait_for_line "$tmp/w1.out" "weir-worker w1 metrics on " $worker_pid)

for job in doomed healthy; do
  cat > "$tmp/$job.yaml" <<EOF
name: $job
source:
  kafka: { brokers: "${kafka[$job]}", topic: events, start: earliest }
key: user_id
event_time: { field: ts, unit: ms }
watermark: { max_out_of_orderness: 5s }
view: $job
features:
  - { name: n_1m, agg: count, window: { tumbling: 1m } }
sink: { feature_store: "$store" }
checkpoint: { interval: 10s, storage: "file://$tmp/checkpoints" }
EOF
  "$weirctl" submit "$tmp/$job.yaml" > "$tmp/submit-$job.out" 2>&1 || fail "submit $job: $(cat "$tmp/submit-$job.out")"
done

# count_state JOB STATE: how many of JOB's partitions are in STATE on the worker.
count_state() {
  http_body "$metrics_at" /metrics | grep -c "^weir_worker_partition_state{job=\"$1\",partition=\"[01]\",state=\"$2\"} 1$" ||
    true
}
# wait_for_state JOB STATE SECONDS: until both of JOB's partitions are in STATE.
wait_for_state() {
  for _ in $(seq $(($3 * 10))); do
    [ "$(count_state "$1" "$2")" -eq 2 ] && return 0
    kill -0 $worker_pid 2>/dev/null || fail "the worker exited"
    sleep 0.1
  done
  fail "job $1: its 2 partitions are not $2 within $3 s: $(http_body "$metrics_at" /metrics | grep "partition_state{job=\"$1\".*} 1")"
}
wait_for_state doomed running 20
wait_for_state healthy running 20

# ---- The doomed job's Kafka dies ----
kill -9 "${kafka_pid[doomed]}"
started=$(date +%s%N)
wait_for_state doomed failed 10
echo "doomed: both partitions failed $((($(date +%s%N) - started) / 1000000)) ms after its Kafka died"
for p in 0 1; do
  grep -F "job doomed partition $p: cannot read topic \"events\" partition $p from the Kafka brokers at ${kafka[doomed]}" \
    "$tmp/w1.log" > /dev/null || fail "no reason for doomed partition $p in the worker's log"
done

# The coordinator's view: `weirctl status --json` is the proto's JSON, with
# each partition's state as its owner last reported it.
ok=0
for _ in $(seq 40); do
  "$weirctl" status doomed --json > "$tmp/status.json" 2>&1 || fail "status --json: $(cat "$tmp/status.json")"
  if [ "$(grep -o 'PARTITION_STATE_FAILED' "$tmp/status.json" | wc -l)" -eq 2 ] &&
    grep -q "cannot read topic .*${kafka[doomed]}" "$tmp/status.json"; then
    ok=1
    break
  fi
  sleep 0.25
done
[ $ok -eq 1 ] || fail "weirctl status does not show doomed's partitions failed with the reason: $(cat "$tmp/status.json")"
echo "weirctl status: doomed's partitions failed, with the reason"
# A failed partition cannot acknowledge a checkpoint: none is triggered
# (which would be abandoned every timeout), and asking for one says why.
if "$weirctl" checkpoint doomed > "$tmp/checkpoint.out" 2>&1; then
  fail "weirctl checkpoint doomed succeeded with its partitions failed: $(cat "$tmp/checkpoint.out")"
fi
grep -q "partition [01] is failed (.*cannot read topic" "$tmp/checkpoint.out" ||
  fail "weirctl checkpoint doomed does not say its partition failed: $(cat "$tmp/checkpoint.out")"
echo "weirctl checkpoint: refused while doomed's partitions are failed, with the reason"

# ---- The healthy job runs on ----
[ "$(count_state healthy running)" -eq 2 ] || fail "healthy is not running on both partitions"
t0=1699999980000
for i in $(seq 0 19); do
  echo "u$i:{\"user_id\":\"u$i\",\"ts\":$((t0 + i * 1000))}"
done | timeout 30 kcat -b "${kafka[healthy]}" -P -t events -K: || fail "kcat produce to healthy's Kafka failed"
ok=0
for _ in $(seq 100); do
  records=$(http_body "$metrics_at" /metrics |
    sed -n 's/^weir_worker_records_in_total{job="healthy",partition="[01]"} //p' | awk '{s += $1} END {print s + 0}')
  [ "$records" -eq 20 ] && { ok=1; break; }
  sleep 0.1
done
[ $ok -eq 1 ] || fail "healthy consumed $records records, want 20"
echo "healthy: 20 records consumed after the other job's Kafka died"

stop_gracefully $worker_pid weir-worker
stop_gracefully $coordinator_pid weir-coordinator
echo "partition failure: all checks passed"
