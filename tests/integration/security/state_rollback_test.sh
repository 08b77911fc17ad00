#!/usr/bin/env bash
# Epochs never stay below what the store has seen (issue 11, finding 5),
# every part a real process on loopback: weir-devkafka, weir-featurestore,
# weir-coordinator, one weir-worker running job "ej".
#  - state.pb is saved while the partition is at epoch 1;
#  - the worker is killed and comes back, twice: the partition moves to epoch
#    3, and the store sees epoch 3;
#  - the coordinator is stopped, the older state.pb restored (as its own error
#    message suggests after a bad disk), and the coordinator restarted: it
#    hands the partition out at epoch 1 (or 2) again, and the store fences it;
#  - the coordinator re-epochs the partition (a `partition-reepoched` event)
#    and the job keeps writing (a window that closes afterwards reaches the
#    store).
#   state_rollback_test.sh WEIRCTL DEVKAFKA FEATURESTORE COORDINATOR WORKER
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
coordinator_flags=(--metrics-listen 127.0.0.1:0 --data-dir "$tmp/coordinator" --heartbeat-interval 100
  --worker-timeout 1000)
"$coordinator" --listen 127.0.0.1:0 "${coordinator_flags[@]}" > "$tmp/coordinator.out" 2> "$tmp/coordinator.log" &
coordinator_pid=$!
track $coordinator_pid
coord=$(wait_for_line "$tmp/coordinator.out" "weir-coordinator listening on " $coordinator_pid)
export WEIR_COORDINATOR=$coord WEIR_STORE=$store

start_worker() {
  "$worker" --id w1 --coordinator "$coord" --metrics-listen 127.0.0.1:0 --data-dir "$tmp/w1" \
    > "$tmp/w1.out" 2>> "$tmp/w1.log" &
  worker_pid=$!
  track $worker_pid
}
start_worker

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
produce() {
  local key=$1
  shift
  for m in "$@"; do echo "$key:{\"user_id\":\"$key\",\"ts\":$((t0 + m * 60000 + 1000))}"; done |
    timeout 30 kcat -b "$bootstrap" -P -t events -K: || fail "kcat produce failed"
}
wait_for_row() {
  for _ in $(seq 120); do
    "$weirctl" features get --view ej --key "$1" > "$tmp/get" 2>&1 || true
    grep -q "\"key\":\"$1\"" "$tmp/get" && return 0
    sleep 0.25
  done
  fail "no row of key $1 within 30 s: $(cat "$tmp/get"); $("$weirctl" events --job ej)"
}
# wait_for_event TEXT [N]: waits (bounded) until N (default 1) cluster events contain TEXT.
wait_for_event() {
  for _ in $(seq 120); do
    "$weirctl" events > "$tmp/events" 2>&1 || true
    [ "$(grep -c "$1" "$tmp/events")" -ge "${2:-1}" ] && return 0
    sleep 0.25
  done
  fail "no event '$1' (${2:-1} wanted) within 30 s: $(cat "$tmp/events")"
}

# Epoch 1: rows written, state.pb saved.
produce a 0 1
wait_for_row a
wait_for_event "partition 0 assigned to w1 (epoch 1)"
cp "$tmp/coordinator/state.pb" "$tmp/state.pb.epoch1"

# Epoch 3: twice the worker dies, is declared lost and comes back; it writes
# at epoch 3. (Twice: the restored coordinator may raise the epoch once, when
# the worker registers after its grace period; it must stay below the store's.)
for epoch in 2 3; do
  kill -9 "$worker_pid"
  wait_for_event "worker-lost" $((epoch - 1))
  start_worker
  wait_for_event "partition 0 assigned to w1 (epoch $epoch)"
done
produce c 2 3
wait_for_row c

# The older state.pb restored: the partition is handed out at epoch 1 again.
stop_gracefully "$coordinator_pid" weir-coordinator
cp "$tmp/state.pb.epoch1" "$tmp/coordinator/state.pb"
"$coordinator" --listen "$coord" "${coordinator_flags[@]}" > "$tmp/coordinator2.out" 2> "$tmp/coordinator2.log" &
coordinator_pid=$!
track $coordinator_pid
wait_for_line "$tmp/coordinator2.out" "weir-coordinator listening on " $coordinator_pid > /dev/null

# Fenced at epoch 1, then re-epoched; the job keeps writing.
wait_for_event "partition-reepoched"
grep -Eq "was fenced at its current epoch [12]:" "$tmp/events" || fail "re-epoch event: $(cat "$tmp/events")"
produce b 4 5
wait_for_row b
echo "state rollback: the fenced partition was re-epoched above the store's epoch and keeps writing"
