#!/usr/bin/env bash
# The first command on a fresh machine: installs what is missing, builds, and
# starts a local Weir cluster on loopback:
#   weir-devkafka      Kafka on 127.0.0.1:9092 (3 brokers, topic transactions:4)
#   weir-featurestore  127.0.0.1:7070 (metrics 127.0.0.1:9464)
#   weir-coordinator   127.0.0.1:7071 (metrics 127.0.0.1:9465)
#   weir-worker x2     w1, w2 (metrics 127.0.0.1:9466, 127.0.0.1:9467)
# then submits examples/*.yaml, generates events for a while (event time runs
# 300x faster than wall time, so hour windows close within seconds), and
# prints features read back with weirctl.
#
# Logs go to logs/quickstart/. In a terminal the cluster keeps running until
# Ctrl-C, which stops everything; without one (CI, pipes) it stops at once.
#   QUICKSTART_SECONDS=20 ./scripts/quickstart.sh   how long to generate events
#   QUICKSTART_KEEP=0|1                               force stopping / keeping it running
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh
echo "== build"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build --target weirctl weir-devkafka weir-loadgen weir-featurestore weir-coordinator weir-worker

seconds=${QUICKSTART_SECONDS:-15}
if [ -n "${QUICKSTART_KEEP:-}" ]; then
  keep=$QUICKSTART_KEEP
elif [ -t 0 ] && [ -t 1 ] && [ "${CI:-}" != "true" ]; then
  keep=1
else
  keep=0
fi

logs=logs/quickstart
data=data/quickstart
rm -rf "$logs" "$data"
mkdir -p "$logs" "$data"
bin=build
weirctl=(./$bin/cli/weirctl --coordinator 127.0.0.1:7071 --store 127.0.0.1:7070)

pids=()
stop_all() {
  trap - INT TERM EXIT
  if [ ${#pids[@]} -gt 0 ]; then
    echo
    echo "== stopping the cluster"
    # Reverse order: workers, coordinator, store, Kafka.
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -TERM "${pids[$i]}" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  fi
}
trap stop_all EXIT
trap 'exit 130' INT TERM

# port_free PORT: true when nothing listens on 127.0.0.1:PORT.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for port in 9092 7070 7071 9464 9465 9466 9467; do
  port_free $port || {
    echo "quickstart: port $port is in use (an earlier quick start still running? stop it with Ctrl-C)" >&2
    exit 1
  }
done

# start NAME COMMAND...: runs it in the background, logging to $logs/NAME.log.
start() {
  local name=$1
  shift
  "$@" > "$logs/$name.log" 2>&1 &
  pids+=($!)
}
# wait_ready NAME HOST:PORT: waits up to 30 s for the daemon's /readyz.
wait_ready() {
  for _ in $(seq 300); do
    if (exec 3<>"/dev/tcp/${2%:*}/${2##*:}" && printf 'GET /readyz HTTP/1.0\r\n\r\n' >&3 && grep -q '^ready' <&3) \
      2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  echo "quickstart: $1 is not ready after 30 s; see $logs/$1.log:" >&2
  tail -20 "$logs/$1.log" >&2
  exit 1
}
wait_port() {
  for _ in $(seq 300); do
    port_free "$2" || return 0
    sleep 0.1
  done
  echo "quickstart: $1 did not listen on port $2 within 30 s; see $logs/$1.log:" >&2
  tail -20 "$logs/$1.log" >&2
  exit 1
}

echo "== starting the cluster (logs in $logs/)"
start devkafka ./$bin/tools/weir-devkafka --port 9092 --brokers 3 --topic transactions:4
wait_port devkafka 9092
start featurestore ./$bin/featurestore/weir-featurestore --listen 127.0.0.1:7070 --metrics-listen 127.0.0.1:9464 \
  --data-dir "$data/featurestore"
wait_ready featurestore 127.0.0.1:9464
start coordinator ./$bin/coordinator/weir-coordinator --listen 127.0.0.1:7071 --metrics-listen 127.0.0.1:9465 \
  --data-dir "$data/coordinator"
wait_ready coordinator 127.0.0.1:9465
start worker-w1 ./$bin/worker/weir-worker --id w1 --coordinator 127.0.0.1:7071 --metrics-listen 127.0.0.1:9466 \
  --data-dir "$data/w1"
start worker-w2 ./$bin/worker/weir-worker --id w2 --coordinator 127.0.0.1:7071 --metrics-listen 127.0.0.1:9467 \
  --data-dir "$data/w2"
wait_ready worker-w1 127.0.0.1:9466
wait_ready worker-w2 127.0.0.1:9467

echo
echo "== weirctl submit examples/*.yaml"
for job in examples/*.yaml; do "${weirctl[@]}" submit "$job"; done

echo
echo "== generating events for ${seconds}s: 2000/s over 200 users, up to 5 s out of order, 1% late"
# Event time starts in the past and runs 300x faster, ending about now, so
# `features get` (as of now) sees the windows that closed.
start_ms=$(($(date +%s%3N) - seconds * 300 * 1000))
start loadgen ./$bin/tools/weir-loadgen --brokers 127.0.0.1:9092 --topic transactions --rate 2000 \
  --count $((seconds * 2000)) --keys 200 --disorder 5s --late-fraction 0.01 --late-by 2h --time-scale 300 \
  --start-ms "$start_ms"
loadgen_pid=${pids[-1]}
for ((s = 0; s < seconds; s += 5)); do
  sleep 5
  "${weirctl[@]}" status user-txn-features | sed -n '/^PARTITION/,$p'
  echo
done
wait "$loadgen_pid" || { echo "quickstart: weir-loadgen failed; see $logs/loadgen.log" >&2; exit 1; }
sleep 2  # the last rows reach the store

echo "== weirctl workers"
"${weirctl[@]}" workers
echo
echo "== weirctl features get --view user_txn --key u1 --key u2"
"${weirctl[@]}" features get --view user_txn --key u1 --key u2 | tee "$logs/features-u1-u2.jsonl"
rows=$("${weirctl[@]}" features export --view user_txn --output "$logs/features-export.jsonl" 2>&1)
echo
echo "== $rows in the store (all of them: $logs/features-export.jsonl)"
[ -s "$logs/features-u1-u2.jsonl" ] || { echo "quickstart: no features came back; see $logs/" >&2; exit 1; }

echo
echo "Try: ${weirctl[*]} status user-txn-features"
echo "     ${weirctl[*]} features get --view user_txn --key u7"
echo "     metrics: http://127.0.0.1:9466/metrics (worker w1)"
if [ "$keep" = 1 ]; then
  echo "The cluster keeps running; Ctrl-C stops everything."
  while true; do sleep 3600; done
fi
