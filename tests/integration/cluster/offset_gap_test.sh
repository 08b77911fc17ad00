#!/usr/bin/env bash
# Records Kafka no longer has are never skipped silently. Real processes on
# loopback: weir-devkafka (which keeps ~5 MiB per partition), weir-featurestore,
# weir-coordinator, one weir-worker running two jobs on the same topic:
# "stopper" (source.on_offset_gap: stop, the default) and "skipper" (skip).
# Both read the first 20 records; the worker is then frozen (SIGSTOP) while
# more than 5 MiB is produced, so the mock deletes the records the jobs were
# about to read; thawed (SIGCONT), the worker's next fetch is out of range:
#  - stopper's partition is `failed` in `weirctl status`, with a reason naming
#    the gap (its first offset and how many records);
#  - skipper goes on at the oldest record kept: it consumes what follows, the
#    skipped records are counted (weir_worker_records_skipped_total) and a
#    RECORDS_SKIPPED event is in `weirctl events`.
#   offset_gap_test.sh WEIRCTL DEVKAFKA FEATURESTORE COORDINATOR WORKER
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
grep -q "keeps only its newest ~5 MiB" "$tmp/kafka.log" || fail "weir-devkafka does not say what it keeps"

"$featurestore" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --data-dir "$tmp/store" \
  > "$tmp/store.out" 2> "$tmp/store.log" &
track $!
store=$(wait_for_line "$tmp/store.out" "weir-featurestore listening on " $!)

# A long worker timeout: the frozen worker keeps its partitions (the gap is
# met while running, not at a restore).
"$coordinator" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --data-dir "$tmp/coordinator" \
  --worker-timeout 120000 > "$tmp/coordinator.out" 2> "$tmp/coordinator.log" &
coordinator_pid=$!
track $coordinator_pid
coord=$(wait_for_line "$tmp/coordinator.out" "weir-coordinator listening on " $coordinator_pid)
export WEIR_COORDINATOR=$coord

"$worker" --id w1 --coordinator "$coord" --metrics-listen 127.0.0.1:0 --data-dir "$tmp/w1" \
  > "$tmp/w1.out" 2> "$tmp/w1.log" &
worker_pid=$!
track $worker_pid
metrics_at=$(wait_for_line "$tmp/w1.out" "weir-worker w1 metrics on " $worker_pid)

for job in stopper skipper; do
  policy=stop
  [ $job = skipper ] && policy=skip
  cat > "$tmp/$job.yaml" <<EOF
name: $job
source:
  kafka: { brokers: "$kafka", topic: events, start: earliest }
  on_offset_gap: $policy
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

# records JOB: records consumed by JOB's partition, as the worker's /metrics says.
records() {
  http_body "$metrics_at" /metrics | sed -n "s/^weir_worker_records_in_total{job=\"$1\",partition=\"0\"} //p" |
    awk '{print $1 + 0}'
}
# wait_records JOB N: until JOB has consumed at least N records (20 s at most).
wait_records() {
  local got=0
  for _ in $(seq 200); do
    got=$(records "$1")
    [ "${got:-0}" -ge "$2" ] && return 0
    kill -0 $worker_pid 2>/dev/null || fail "the worker exited"
    sleep 0.1
  done
  fail "job $1 consumed ${got:-0} records, want at least $2"
}
# produce FIRST COUNT PAD: COUNT records, user ids FIRST.., each padded with PAD bytes.
produce() {
  awk -v first="$1" -v n="$2" -v padn="$3" 'BEGIN {
    pad = sprintf("%*s", padn, ""); gsub(/ /, "x", pad)
    for (i = first; i < first + n; i++)
      printf "u%d:{\"user_id\":\"u%d\",\"ts\":%d,\"pad\":\"%s\"}\n", i, i, 1699999980000 + i, pad
  }' | timeout 60 kcat -b "$kafka" -P -t events -K: || fail "kcat produce failed"
}

produce 0 20 0
wait_records stopper 20
wait_records skipper 20

# ---- Freeze the worker, let retention delete what it would read next ----
kill -STOP $worker_pid
produce 20 8000 1000 # ~8 MiB: the mock keeps ~5 MiB, so offsets 20.. are deleted
kill -CONT $worker_pid

# stopper: failed, the reason names the gap (from offset 20, N records).
ok=0
for _ in $(seq 200); do
  "$weirctl" status stopper --json > "$tmp/status.json" 2>&1 || fail "status --json: $(cat "$tmp/status.json")"
  if grep -q 'PARTITION_STATE_FAILED' "$tmp/status.json" &&
    grep -Eq 'records from offset 20 to [0-9]+ \([0-9]+ records\) are gone from Kafka' "$tmp/status.json"; then
    ok=1
    break
  fi
  sleep 0.1
done
[ $ok -eq 1 ] || fail "stopper is not failed with the gap named: $(cat "$tmp/status.json")"
grep -q "on_offset_gap: skip" "$tmp/status.json" || fail "stopper's reason does not say what to do: $(cat "$tmp/status.json")"
"$weirctl" status stopper > "$tmp/status.txt" 2>&1 || true
grep -q "failed" "$tmp/status.txt" || fail "weirctl status stopper does not show failed: $(cat "$tmp/status.txt")"
echo "stopper: failed with the gap named"

# skipper: goes on from the oldest record kept, the gap counted and reported.
skipped=0
for _ in $(seq 200); do
  skipped=$(http_body "$metrics_at" /metrics |
    sed -n 's/^weir_worker_records_skipped_total{job="skipper",partition="0"} //p' | awk '{print $1 + 0}')
  [ "${skipped:-0}" -gt 0 ] && break
  sleep 0.1
done
[ "${skipped:-0}" -gt 0 ] || fail "skipper: no skipped records counted"
wait_records skipper $((20 + 100))
"$weirctl" status skipper > "$tmp/status-skipper.txt" 2>&1 || fail "status skipper: $(cat "$tmp/status-skipper.txt")"
grep -q "failed" "$tmp/status-skipper.txt" && fail "skipper is failed: $(cat "$tmp/status-skipper.txt")"
ok=0
for _ in $(seq 100); do
  "$weirctl" events --job skipper > "$tmp/events.txt" 2>&1 || true
  grep -q "skipped $skipped records Kafka no longer had" "$tmp/events.txt" && { ok=1; break; }
  sleep 0.1
done
[ $ok -eq 1 ] || fail "no event says skipper skipped $skipped records: $(cat "$tmp/events.txt")"
grep -q "job skipper: topic \"events\" partition 0: records from offset 20 to" "$tmp/w1.log" ||
  fail "the skip is not in the worker's log"
echo "skipper: skipped $skipped records (counted, logged, an event) and went on"

stop_gracefully $worker_pid weir-worker
stop_gracefully $coordinator_pid weir-coordinator
echo "offset gap: all checks passed"
