#!/usr/bin/env bash
# A worker's death is seen by its connection, not only by missed heartbeats:
# with a 60 s heartbeat timeout, a worker killed with -9 is declared lost
# within seconds (its watch stream to the coordinator closed with its
# process), its partitions move to the other worker, which writes their rows,
# and `weirctl events` says why. A worker that leaves with SIGTERM is not
# declared lost: it left, with its handoff snapshots.
#   worker_exit_test.sh WEIRCTL DEVKAFKA FEATURESTORE COORDINATOR WORKER
set -euo pipefail
weirctl=$1
devkafka=$2
featurestore=$3
coordinator=$4
worker=$5
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib.sh"
command -v kcat >/dev/null || fail "kcat is not installed (scripts/setup.sh installs it)"

start_devkafka "$devkafka" --brokers 1 --topic events:4
start_store "$featurestore"
start_coordinator "$coordinator" --worker-timeout 60000
export WEIR_COORDINATOR=$coord WEIR_STORE=$store
start_worker "$worker" w1
w1_pid=$worker_pid
start_worker "$worker" w2
w2_pid=$worker_pid

cat > "$tmp/job.yaml" <<EOF
name: exits
source:
  kafka: { brokers: "$kafka", topic: events, start: earliest }
key: user_id
event_time: { field: ts, unit: ms }
watermark: { max_out_of_orderness: 1s }
view: exits
features:
  - { name: n_1m, agg: count, window: { tumbling: 1m } }
sink: { feature_store: "$store" }
EOF
"$weirctl" submit "$tmp/job.yaml" > "$tmp/submit.out" 2>&1 || fail "submit: $(cat "$tmp/submit.out")"

# produce FROM TO: records FROM..TO-1, 20 users, a second of event time apart.
produce() {
  local i
  for i in $(seq "$1" $(($2 - 1))); do
    echo "u$((i % 20)):{\"user_id\":\"u$((i % 20))\",\"ts\":$((1699999980000 + i * 1000))}"
  done | timeout 30 kcat -b "$kafka" -P -t events -K: || fail "kcat produce failed"
}
# owners: the job's partitions' distinct owners, sorted, on one line.
owners() {
  "$weirctl" status exits --json 2>/dev/null |
    python3 -c 'import json, sys; print(" ".join(sorted({p.get("owner", "") for p in json.load(sys.stdin)["partitions"]})))' \
      2>/dev/null || true
}
# wait_owners "W..." SECONDS: until the owners are exactly those.
wait_owners() {
  for _ in $(seq $(($2 * 10))); do
    [ "$(owners)" = "$1" ] && return 0
    sleep 0.1
  done
  return 1
}
produce 0 200
wait_owners "w1 w2" 20 || fail "the partitions are not spread over w1 and w2: $(owners)"

kill -9 $w1_pid
killed=$(date +%s%3N)
wait_owners "w2" 10 || fail "w1's partitions did not move within 10 s of its kill (heartbeat timeout 60 s): $(owners)"
echo "kill -9 of w1: its partitions on w2 after $(($(date +%s%3N) - killed)) ms (heartbeat timeout 60000 ms)"
"$weirctl" events > "$tmp/events.out" 2>&1 || fail "weirctl events: $(cat "$tmp/events.out")"
grep -q "worker-lost .* worker w1 lost: its connection to the coordinator closed; its partitions move" "$tmp/events.out" ||
  fail "no worker-lost event saying why: $(cat "$tmp/events.out")"
produce 200 400
for _ in $(seq 100); do
  "$weirctl" features export --view exits --output "$tmp/export" 2>/dev/null || true
  [ "$(grep -c . "$tmp/export" 2>/dev/null)" -ge 100 ] && break
  sleep 0.2
done
[ "$(grep -c . "$tmp/export")" -ge 100 ] || fail "w2 wrote only $(grep -c . "$tmp/export") rows"

# SIGTERM: w3 joins, then w2 leaves; w2 is not declared lost.
start_worker "$worker" w3
wait_owners "w2 w3" 20 || fail "w3 got no partition: $(owners)"
stop_gracefully $w2_pid weir-worker
wait_owners "w3" 20 || fail "w2's partitions did not move to w3: $(owners)"
"$weirctl" events > "$tmp/events.out" 2>&1 || true
grep -q "worker-left .* worker w2 left" "$tmp/events.out" || fail "no worker-left event for w2: $(cat "$tmp/events.out")"
if grep -q "worker w2 lost" "$tmp/events.out"; then fail "w2 left but was declared lost: $(cat "$tmp/events.out")"; fi
echo "SIGTERM of w2: it left, not lost; its partitions on w3"
stop_gracefully $worker_pid weir-worker
stop_gracefully $coordinator_pid weir-coordinator
echo "worker exits: all checks passed"
