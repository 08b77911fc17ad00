#!/usr/bin/env bash
# Weir side by side with Apache Flink and Kafka Streams: the same events in
# the same real Kafka topic, the same windows and watermark delay, one core's
# worth of parallelism each, in one run on this machine.
#
#   Weir           one worker, one processing thread (--threads 1), with its
#                  coordinator; rows go to a feature store (RocksDB, synced)
#   Flink          a JobManager and a TaskManager, separate JVMs started from
#                  the jars (parallelism 1, one task slot), heap (hashmap)
#                  backend, then RocksDB (incremental checkpoints); the sink
#                  counts rows
#   Kafka Streams  one instance, one stream thread, exactly_once_v2,
#                  suppress(untilWindowCloses); rows to an output topic
#
# Features (bench/peers/.../Features.java, and the Weir job below): tumbling
# 1m count and sum, sliding 1h/1m sum, session (gap 30s) count; watermark
# delay 2s, allowed lateness 0 (Kafka Streams: grace 2s, which closes the same
# windows); checkpoints every 10s, exactly-once.
#
# For each engine, the medians of RUNS runs (fresh processes each):
#   events/s       wall time from the end of the warm-up to the last event
#                  consumed; the warm-up (JIT, caches, first checkpoint) is
#                  the first 10% of the events or the first 30 s, whichever
#                  ends first. RUN_TIMEOUT (s, default 3600) bounds a run: an
#                  engine still running then is timed over what it consumed.
#   events/CPU-s   the same events over the engine processes' user+system
#                  time in that interval (Weir: worker + coordinator; Flink:
#                  JobManager + TaskManager; Kafka Streams: its JVM). The
#                  broker's and Weir's feature store's are printed apart.
#   peak RSS       VmHWM, summed over the engine processes
#   sliding/tumbling  CPU per event of a sliding 1h/1m sum job over that of a
#                  tumbling 1m sum job (one run each)
#   recovery       on a live stream (loadgen at LIVE_RATE events/s, a 1m
#                  window closing every second): kill -9 of the Weir worker,
#                  the Flink TaskManager, the Kafka Streams instance, a new
#                  one started at once, to the first row the new process
#                  emits
# It prints one table and writes it, with versions and settings, into
# docs/benchmarks.md (between the bench-peers markers).
#
#   ./scripts/bench-peers.sh [--no-docs]   the benchmark (Release build)
#   ./scripts/bench-peers.sh --check       the cross-check only: ctest -L peers
#                                          (Flink's rows equal Weir's)
#   Environment: EVENTS=5000000 RUNS=3 KEYS=10000 LIVE_RATE=5000 RUN_TIMEOUT=3600
#   ENGINES="weir flink-heap flink-rocksdb streams"; BUILD=DIR uses that
#   build folder as it is (default: build-release, configured Release)
set -euo pipefail
self=$(readlink -f "$0")
cd "$(dirname "$self")/.."
root=$PWD

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$self"; }
check=0
docs=1
while [ $# -gt 0 ]; do
  case "$1" in
    --check) check=1; shift ;;
    --no-docs) docs=0; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "bench-peers.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

./scripts/setup.sh >/dev/null
export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=1
if [ "$check" = 1 ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/dev/null
  cmake --build build --target weirctl weir-loadgen
  exec ctest --test-dir build -L peers --output-on-failure
fi

b=${BUILD:-build-release}
# BUILD names an existing build folder to use as it is configured.
[ -n "${BUILD:-}" ] || cmake -S . -B "$b" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/dev/null
cmake --build "$b" --target weirctl weir-loadgen weir-featurestore weir-coordinator weir-worker
cp=$(./scripts/peers-java.sh classpath flink)
streams_cp=$(./scripts/peers-java.sh classpath streams)

events=${EVENTS:-5000000}
runs=${RUNS:-3}
keys=${KEYS:-10000}
live_rate=${LIVE_RATE:-5000}
read -r -a engines <<< "${ENGINES:-weir flink-heap flink-rocksdb streams}"
warmup=$((events / 10))
delay_ms=2000
work=$(mktemp -d)
logs=logs/bench-peers
rm -rf "$logs" && mkdir -p "$logs"
./scripts/peers-java.sh log4j "$work/log4j2.properties"
java=(java "-Dlog4j2.configurationFile=$work/log4j2.properties" -cp "$cp")
java_streams=(java "-Dlog4j2.configurationFile=$work/log4j2.properties" -cp "$streams_cp")

pids=()  # every process started here, stopped on exit
cleanup() {
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -KILL "${pids[$i]}" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -f "$work/kafka/env" ] && { ./scripts/kafka.sh stop --dir "$work/kafka" || true; }
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now_ms() { date +%s%3N; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# line_of FILE PREFIX [TRIES]: waits (0.1 s a try, default 600) for a line
# starting with PREFIX and prints the rest of it.
line_of() {
  local v
  for _ in $(seq "${3:-600}"); do
    v=$(sed -n "s/^$2//p" "$1" 2>/dev/null | head -1)
    [ -n "$v" ] && { echo "$v"; return 0; }
    sleep 0.1
  done
  echo "bench-peers.sh: no '$2' in $1" >&2
  return 1
}
http_get() {
  exec 3<>"/dev/tcp/${1%:*}/${1##*:}"
  printf 'GET %s HTTP/1.0\r\n\r\n' "$2" >&3
  sed '1,/^\r$/d' <&3
  exec 3<&-
}
tick=$(getconf CLK_TCK)
cpu_ms() {  # cpu_ms PID...: user + system time so far, ms (a process gone counts 0)
  local p
  for p in "$@"; do sed 's/.*) //' "/proc/$p/stat" 2>/dev/null || true; done |
    awk -v t="$tick" '{s += $12 + $13} END {printf "%d\n", s * 1000 / t}'
}
rss_mib() {  # rss_mib PID...: peak resident set (VmHWM), summed, MiB
  local p
  for p in "$@"; do grep VmHWM "/proc/$p/status" 2>/dev/null || true; done | awk '{s += $2} END {printf "%d\n", s / 1024}'
}
stop_pids() {  # SIGTERM, then SIGKILL after 15 s
  local p
  for p in "$@"; do kill -TERM "$p" 2>/dev/null || true; done
  for _ in $(seq 150); do
    local alive=0
    for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && return 0
    sleep 0.1
  done
  for p in "$@"; do kill -KILL "$p" 2>/dev/null || true; done
}

echo "== starting one Apache Kafka broker (scripts/kafka.sh)"
./scripts/kafka.sh start --brokers 1 --dir "$work/kafka" 2> "$logs/kafka-start.log" || { cat "$logs/kafka-start.log" >&2; exit 1; }
# shellcheck disable=SC1091
source "$work/kafka/env"
export KAFKA_BOOTSTRAP KAFKA_BROKERS
kafka=$KAFKA_BOOTSTRAP
read -r -a broker_pids <<< "$KAFKA_PIDS"
./scripts/kafka.sh topic bench 4 1 >> "$logs/kafka-start.log" 2>&1
echo "  producing $events events ($keys keys, 4 partitions, event time +2 ms per event, disorder up to 2s)"
"$b"/tools/weir-loadgen --brokers "$kafka" --topic bench --rate 0 --count "$events" --keys "$keys" --disorder 2s \
  --event-step-ms 2 --start-ms 1700000000000 > /dev/null 2> "$logs/loadgen.log"

# ---- the engines. start_ENGINE FEATURES TOPIC TAG sets: engine_pids (CPU and
# RSS are theirs), worker_pid (the process recovery kills), out (its stdout).
# progress_ENGINE prints the events consumed so far.

weir_job() {  # weir_job NAME TOPIC FEATURES
  cat <<YAML
name: $1
source: { kafka: { brokers: "$kafka", topic: $2, start: earliest } }
key: user_id
event_time: { field: ts, unit: ms }
watermark: { max_out_of_orderness: ${delay_ms}ms }
allowed_lateness: 0s
view: $1
sink: { feature_store: "$weir_store" }
checkpoint: { interval: 10s, storage: "file://$work/$1/checkpoints" }
features:
YAML
  case "$3" in
    all | tumbling) [ "$3" = all ] && echo "  - { name: amount_count_1m, agg: count, window: { tumbling: 1m } }"
      echo "  - { name: amount_sum_1m, agg: sum, field: amount, window: { tumbling: 1m } }" ;;&
    all | sliding) echo "  - { name: amount_sum_1h, agg: sum, field: amount, window: { sliding: { size: 1h, slide: 1m } } }" ;;&
    all) echo "  - { name: session_count, agg: count, window: { session: { gap: 30s } } }" ;;
  esac
}
start_weir_worker() {  # start_weir_worker DIR: (re)starts worker w1; sets worker_pid, weir_metrics
  "$b/worker/weir-worker" --id w1 --coordinator "$weir_coordinator" --metrics-listen 127.0.0.1:0 --threads 1 \
    --data-dir "$1/w1" --log-level warn > "$1/w1.out" 2>> "$1/w1.log" &
  worker_pid=$!
  pids+=("$worker_pid")
  weir_metrics=$(line_of "$1/w1.out" "weir-worker w1 metrics on ")
}
start_weir() {
  local d="$work/$3"
  mkdir -p "$d"
  "$b/featurestore/weir-featurestore" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --data-dir "$d/store" \
    > "$d/store.out" 2> "$d/store.log" &
  pids+=($!)
  store_pid=$!
  weir_store=$(line_of "$d/store.out" "weir-featurestore listening on ")
  "$b/coordinator/weir-coordinator" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --data-dir "$d/coordinator" \
    --heartbeat-interval 50 > "$d/coordinator.out" 2> "$d/coordinator.log" &
  pids+=($!)
  coordinator_pid=$!
  weir_coordinator=$(line_of "$d/coordinator.out" "weir-coordinator listening on ")
  start_weir_worker "$d"
  weir_job "$3" "$2" "$1" > "$d/job.yaml"
  weir_name=$3
  "$b/cli/weirctl" --coordinator "$weir_coordinator" submit "$d/job.yaml" > /dev/null
  engine_pids=("$worker_pid" "$coordinator_pid")
  side_pids=("$store_pid")
  out=$d/w1.out
}
metric_sum() {  # metric_sum NAME: the worker's NAME series of the job, summed
  http_get "$weir_metrics" /metrics 2>/dev/null |
    awk -v m="$1" -v j="job=\"$weir_name\"" 'index($0, m) == 1 && index($0, j) {s += $NF} END {printf "%d\n", s}'
}
progress_weir() { metric_sum weir_worker_records_in_total; }
first_row_weir() {  # first_row_weir: waits for the (re)started worker's first row; prints its time
  for _ in $(seq 1200); do
    [ "$(metric_sum weir_worker_rows_out_total)" -gt 0 ] && { now_ms; return 0; }
    sleep 0.05
  done
  return 1
}

flink_conf() {  # flink_conf DIR
  mkdir -p "$1/conf"
  cat > "$1/conf/config.yaml" <<YAML
jobmanager.rpc.address: 127.0.0.1
jobmanager.rpc.port: $(free_port)
jobmanager.bind-host: 127.0.0.1
jobmanager.memory.process.size: 1600m
rest.address: 127.0.0.1
rest.bind-address: 127.0.0.1
rest.port: $(free_port)
taskmanager.host: 127.0.0.1
taskmanager.bind-host: 127.0.0.1
taskmanager.numberOfTaskSlots: 1
parallelism.default: 1
# The memory of Flink's default 1728m TaskManager, spelled out: what
# taskmanager.sh computes and passes when it starts TaskManagerRunner.
taskmanager.cpu.cores: 1.0
taskmanager.memory.framework.heap.size: 128m
taskmanager.memory.task.heap.size: 384m
taskmanager.memory.framework.off-heap.size: 128m
taskmanager.memory.task.off-heap.size: 0m
taskmanager.memory.network.min: 128m
taskmanager.memory.network.max: 128m
taskmanager.memory.managed.size: 512m
taskmanager.memory.jvm-metaspace.size: 256m
taskmanager.memory.jvm-overhead.min: 192m
taskmanager.memory.jvm-overhead.max: 192m
YAML
  flink_rest=127.0.0.1:$(sed -n 's/^rest.port: //p' "$1/conf/config.yaml")
}
start_flink_tm() {  # start_flink_tm DIR N: TaskManager number N; sets worker_pid
  java -Xmx512m -Xms512m -XX:MaxDirectMemorySize=256m -XX:MaxMetaspaceSize=256m \
    "-Dlog4j2.configurationFile=$work/log4j2.properties" -cp "$cp" \
    org.apache.flink.runtime.taskexecutor.TaskManagerRunner --configDir "$1/conf" > "$1/tm$2.out" 2> "$1/tm$2.log" &
  worker_pid=$!
  pids+=("$worker_pid")
  out=$1/tm$2.out
}
start_flink() {  # FEATURES TOPIC TAG, BACKEND in $flink_backend
  local d="$work/$3"
  flink_conf "$d"
  java -Xmx1g -Xms1g "-Dlog4j2.configurationFile=$work/log4j2.properties" -cp "$cp" \
    org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint --configDir "$d/conf" \
    > "$d/jm.out" 2> "$d/jm.log" &
  pids+=($!)
  local jm=$!
  start_flink_tm "$d" 1
  for _ in $(seq 600); do
    http_get "$flink_rest" /overview 2>/dev/null | grep -q '"slots-available":1' && break
    sleep 0.1
  done
  "${java[@]}" dev.weir.peers.FlinkFeatures --bootstrap "$kafka" --topic "$2" --group "$3" --features "$1" \
    --backend "$flink_backend" --delay-ms "$delay_ms" --checkpoint-dir "$d/checkpoints" --checkpoint-ms 10000 \
    --expect "$events" --remote "$flink_rest" --detached true > "$d/submit.out" 2> "$d/submit.log"
  engine_pids=("$jm" "$worker_pid")
  side_pids=()
  flink_dir=$d
}
progress_java() { sed -n 's/^peers: events \([0-9]*\) .*/\1/p' "$out" | tail -1; }
progress_flink() { progress_java; }
first_row_java() { line_of "$out" "peers: first-row " 1200; }
first_row_flink() { first_row_java; }

start_streams() {
  local d="$work/$3"
  mkdir -p "$d"
  ./scripts/kafka.sh topic "$3-rows" 4 1 >> "$logs/kafka-start.log" 2>&1
  "${java_streams[@]}" dev.weir.peers.StreamsFeatures --bootstrap "$kafka" --topic "$2" --output "$3-rows" --app-id "$3" \
    --state-dir "$d/state" --features "$1" --grace-ms "$delay_ms" --expect "$events" > "$d/ks1.out" 2> "$d/ks1.log" &
  worker_pid=$!
  pids+=("$worker_pid")
  engine_pids=("$worker_pid")
  side_pids=()
  out=$d/ks1.out
  streams_args=(--bootstrap "$kafka" --topic "$2" --output "$3-rows" --app-id "$3" --state-dir "$d/state"
    --features "$1" --grace-ms "$delay_ms" --expect "$events")
  streams_dir=$d
}
progress_streams() { progress_java; }
first_row_streams() { first_row_java; }

# start ENGINE FEATURES TOPIC TAG
start() {
  case "$1" in
    weir) start_weir "$2" "$3" "$4" ;;
    flink-heap) flink_backend=hashmap && start_flink "$2" "$3" "$4" ;;
    flink-rocksdb) flink_backend=rocksdb && start_flink "$2" "$3" "$4" ;;
    streams) start_streams "$2" "$3" "$4" ;;
  esac
}
kind() { case "$1" in flink-*) echo flink ;; *) echo "$1" ;; esac; }
stop_engine() { stop_pids "${engine_pids[@]}" "${side_pids[@]}"; }

# measure ENGINE FEATURES TAG: one timed run over the bench topic; prints
# "events_per_s events_per_cpu_s rss_mib side_cpu_us_per_event broker_cpu_us_per_event"
measure() {
  local k t0=0 c0=0 s0=0 b0=0 n=0 n0=0 t1 c1 s1 b1 limit first=0
  start "$1" "$2" bench "$3"
  k=$(kind "$1")
  limit=$(($(date +%s) + ${RUN_TIMEOUT:-3600}))
  while :; do
    n=$("progress_$k")
    n=${n:-0}
    [ "$first" = 0 ] && [ "$n" -gt 0 ] && first=$(now_ms)
    if [ "$t0" = 0 ] && { [ "$n" -ge "$warmup" ] || { [ "$first" != 0 ] && [ $(($(now_ms) - first)) -ge 30000 ]; }; }; then
      t0=$(now_ms); c0=$(cpu_ms "${engine_pids[@]}"); s0=$(cpu_ms "${side_pids[@]}"); b0=$(cpu_ms "${broker_pids[@]}")
      n0=$n
    fi
    [ "$n" -ge "$events" ] && break
    if [ "$(date +%s)" -ge "$limit" ]; then
      echo "  $3: timed out at $n of $events events" >&2
      break
    fi
    sleep 0.1
  done
  t1=$(now_ms); c1=$(cpu_ms "${engine_pids[@]}"); s1=$(cpu_ms "${side_pids[@]}"); b1=$(cpu_ms "${broker_pids[@]}")
  local rss
  rss=$(rss_mib "${engine_pids[@]}")
  stop_engine
  awk -v n=$((n - n0)) -v ms=$((t1 - t0)) -v cpu=$((c1 - c0)) -v side=$((s1 - s0)) -v broker=$((b1 - b0)) -v rss="$rss" \
    'BEGIN {printf "%d %d %d %.2f %.2f\n", n * 1000 / ms, (cpu > 0 ? n * 1000 / cpu : 0), rss, side * 1000 / n, broker * 1000 / n}'
}

# recover ENGINE: kill -9 of the engine's worker process on a live stream,
# a new one at once; prints ms from the kill to the new process's first row.
recover() {
  local tag="live-$1" k t_kill t_row
  k=$(kind "$1")
  ./scripts/kafka.sh topic "$tag" 4 1 >> "$logs/kafka-start.log" 2>&1
  # 12 ms of event time per event at LIVE_RATE events/s: with 5000/s, a 1m
  # window closes every second of wall time.
  "$b"/tools/weir-loadgen --brokers "$kafka" --topic "$tag" --rate "$live_rate" --count $((live_rate * 90)) \
    --keys 1000 --disorder 2s --event-step-ms 12 --start-ms 1700000000000 > /dev/null 2> "$logs/loadgen-$tag.log" &
  local loadgen=$!
  pids+=("$loadgen")
  start "$1" all "$tag" "$tag"
  # Rows flowing, and a checkpoint (every 10 s) taken, before the kill.
  "first_row_$k" > /dev/null
  sleep 15
  t_kill=$(now_ms)
  kill -KILL "$worker_pid"
  { wait "$worker_pid"; } 2>/dev/null || true  # reaped quietly (no "Killed" line)
  case "$k" in
    weir) start_weir_worker "$work/$tag" ;;
    flink) start_flink_tm "$flink_dir" 2 ;;
    streams)
      "${java_streams[@]}" dev.weir.peers.StreamsFeatures "${streams_args[@]}" > "$streams_dir/ks2.out" 2> "$streams_dir/ks2.log" &
      worker_pid=$!
      pids+=("$worker_pid")
      out=$streams_dir/ks2.out
      ;;
  esac
  engine_pids+=("$worker_pid")
  t_row=$("first_row_$k") || t_row=""
  stop_engine
  kill -TERM "$loadgen" 2>/dev/null || true
  if [ -z "$t_row" ]; then echo "n/a"; else echo $((t_row - t_kill)); fi
}

declare -A rate cpu rss ratio rec side
for e in "${engines[@]}"; do
  echo "== $e: $runs timed runs of $events events (not the first $warmup or 30 s)"
  rates=() cpus=() rsss=() sides=()
  for r in $(seq "$runs"); do
    measure "$e" all "$e-all-$r" > "$work/result"
    read -r a c m s br < "$work/result"
    echo "  run $r: $a events/s, $c events/CPU-s, peak RSS $m MiB; CPU per event: broker $br µs$([ "$e" = weir ] &&
      echo ", feature store $s µs")"
    rates+=("$a") cpus+=("$c") rsss+=("$m") sides+=("$s")
  done
  rate[$e]=$(median "${rates[@]}") cpu[$e]=$(median "${cpus[@]}") rss[$e]=$(median "${rsss[@]}")
  side[$e]=$(median "${sides[@]}")
  measure "$e" tumbling "$e-tumbling" > "$work/result"
  read -r _ ct _ _ _ < "$work/result"
  measure "$e" sliding "$e-sliding" > "$work/result"
  read -r _ cs _ _ _ < "$work/result"
  ratio[$e]=$(awk -v t="$ct" -v s="$cs" 'BEGIN {if (s > 0) printf "%.2f", t / s; else print "n/a"}')
  echo "  tumbling 1m sum $ct events/CPU-s, sliding 1h/1m sum $cs events/CPU-s: sliding costs ${ratio[$e]}x"
  recover "$e" > "$work/result"
  rec[$e]=$(cat "$work/result")
  echo "  recovery: kill -9 to first new row ${rec[$e]} ms"
done

name() {
  case "$1" in
    weir) echo "Weir (1 worker, 1 thread)" ;;
    flink-heap) echo "Flink, heap backend" ;;
    flink-rocksdb) echo "Flink, RocksDB backend" ;;
    streams) echo "Kafka Streams (1 thread)" ;;
  esac
}
flink_version=$(sed -n 's:.*<flink.version>\(.*\)</flink.version>.*:\1:p' bench/peers/pom.xml)
connector_version=$(sed -n 's:.*<flink.kafka.version>\(.*\)</flink.kafka.version>.*:\1:p' bench/peers/pom.xml)
table=$(
  echo "| engine | events/s (wall) | events per CPU-second | peak RSS | sliding ÷ tumbling CPU | recovery, kill -9 to first new row |"
  echo "|---|---|---|---|---|---|"
  for e in "${engines[@]}"; do
    echo "| $(name "$e") | ${rate[$e]} | ${cpu[$e]} | ${rss[$e]} MiB | ${ratio[$e]} | ${rec[$e]} ms |"
  done
)
settings="$(date -u +%F), $events events ($keys keys, 4 partitions), medians of $runs runs; Apache Kafka $KAFKA_VERSION \
(one broker), Flink $flink_version with flink-connector-kafka $connector_version, Kafka Streams $KAFKA_VERSION, \
$(java -version 2>&1 | head -1), Weir $(git rev-parse --short HEAD) ($b); $(nproc) cores shared with other work"
echo "== side by side: $settings"
echo "$table"
[ -n "${side[weir]:-}" ] && table+=$'\n\n'"Weir's feature store (the sink, RocksDB with synced writes) used ${side[weir]} µs of CPU per event on top of the figure above."
if [ "$docs" = 1 ]; then
  python3 - docs/benchmarks.md "$settings" "$table" <<'EOF'
import sys
path, settings, table = sys.argv[1:]
text = open(path, encoding="utf-8").read()
begin, end = "<!-- bench-peers:begin -->", "<!-- bench-peers:end -->"
block = f"{begin}\n_{settings}._\n\n{table}\n{end}"
if begin in text:
    text = text[: text.index(begin)] + block + text[text.index(end) + len(end):]
else:
    text += "\n" + block + "\n"
open(path, "w", encoding="utf-8").write(text)
EOF
  echo "  written to docs/benchmarks.md"
fi
