#!/usr/bin/env bash
# End-to-end benchmarks of a local cluster (Release build). Each target is
# measured against a baseline from the same run, on the same machine, and
# printed as one line:
#   <target>: <figure>; baseline <figure>; ratio <r> (target <t>) MET|MISSED
#
#  1. Throughput, per key count (KEYS): events/s from Kafka through 2 workers
#     into the feature store, against a raw librdkafka consume of the same
#     topic from the same broker (weir_kafka_consume_bench). Target: ratio
#     >= 0.9.
#  2. Window close -> readable, per key count: p99 from a window firing in the
#     worker (the watermark passing its end) to the store acknowledging its
#     rows (synced to RocksDB's WAL, so readable), under a live stream where
#     every key's window closes at once; the workers'
#     weir_worker_row_ack_latency_seconds histogram. Baseline: the store's own
#     synced-write p99 (weir_store_write_seconds) over the same interval.
#     Targets: p99 <= 10 ms at 1,000 keys or fewer, <= 30 ms above.
#  3. GetOnlineFeatures p99 at a fixed request rate on loopback
#     (weir_online_read_bench, open loop). Baseline: the store's own p99 to
#     answer a request (weir_store_read_seconds) over the same interval.
#     Target p99 <= 2 ms at 10k req/s.
#  4. With --rekey only (and only this): the throughput of a re-keyed job
#     (source.partitioned_by: merchant, key user_id, so every record goes
#     through weir.<job>.repartition) against the same job on the same topic,
#     already partitioned by user_id, in the same run. Both have the same
#     keys; the re-keyed one adds one Kafka write and one read per record.
#     Target: ratio >= 0.5. Figures are stage 2's records (markers included
#     in the progress count, not in the rate) from the first record consumed
#     to the last row acknowledged.
# Everything shares this machine's cores: the figures are for the whole
# cluster on one box, not per process.
#
#   ./scripts/bench-cluster.sh [--kafka dev|real] [--rekey]
#     --kafka dev   weir-devkafka, librdkafka's mock cluster (default; keeps
#                   only ~5 MiB per partition, so records are counted)
#     --kafka real  one Apache Kafka broker (scripts/kafka.sh; started here,
#                   stopped on exit)
#   Environment: KEYS="1000 10000" EVENTS (2000000 dev, 4000000 real) RUNS=3
#   READ_RATE=10000; WORKER_BIN runs another weir-worker binary (a copy of an
#   older build, for a before/after comparison); BENCH_BUILD=DIR uses an
#   existing build folder (e.g. build, RelWithDebInfo) instead of building
#   build-release. --rekey: EVENTS defaults to 300000 (the mock cluster keeps
#   ~5 MiB per partition, the repartition topic's too).
set -euo pipefail
self=$(readlink -f "$0")
cd "$(dirname "$self")/.."

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$self"; }
kafka_kind=dev
rekey=0
while [ $# -gt 0 ]; do
  case "$1" in
    --rekey) rekey=1; shift ;;
    --kafka) kafka_kind=${2:-}; shift $(($# > 1 ? 2 : 1)) ;;
    --kafka=*) kafka_kind=${1#--kafka=}; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "bench-cluster.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$kafka_kind" in
  dev) default_events=2000000 ;;
  real) default_events=4000000 ;;
  *) echo "bench-cluster.sh: --kafka is dev or real, not '$kafka_kind'" >&2; exit 2 ;;
esac

if [ -z "${BENCH_BUILD:-}" ]; then
  ./scripts/setup.sh >/dev/null
  cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build-release -j2 --target weirctl weir-devkafka weir-loadgen weir-featurestore weir-coordinator \
    weir-worker weir_kafka_consume_bench weir_online_read_bench
fi

[ $rekey -eq 1 ] && default_events=300000
events=${EVENTS:-$default_events}
runs=${RUNS:-3}
read_rate=${READ_RATE:-10000}
read -r -a key_counts <<< "${KEYS:-1000 10000}"
b=${BENCH_BUILD:-build-release}
work=$(mktemp -d)
logs=logs/bench-cluster
rm -rf "$logs" && mkdir -p "$logs"
pids=()
results=()
cleanup() {
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -TERM "${pids[$i]}" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -f "$work/kafka/env" ]; then
    cp "$work"/kafka/node-*.log "$logs/" 2>/dev/null || true
    ./scripts/kafka.sh stop --dir "$work/kafka" || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# line_of FILE PREFIX: waits for a line starting with PREFIX, prints the rest.
line_of() {
  for _ in $(seq 300); do
    v=$(sed -n "s/^$2//p" "$1" | head -1)
    [ -n "$v" ] && { echo "$v"; return; }
    sleep 0.1
  done
  echo "no '$2' in $1" >&2
  exit 1
}
http_get() {
  exec 3<>"/dev/tcp/${1%:*}/${1##*:}"
  printf 'GET %s HTTP/1.0\r\n\r\n' "$2" >&3
  sed '1,/^\r$/d' <&3
  exec 3<&-
}
now_ms() { date +%s%3N; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
# result TARGET FIGURE UNIT BASELINE RATIO OP LIMIT VALUE [LIMIT_UNIT]: prints
# (and keeps for the summary) one target's line; MET when VALUE OP LIMIT (OP
# is >= or <=), MISSED otherwise or when VALUE is missing.
result() {
  local met
  met=$(awk -v v="$8" -v op="$6" -v l="$7" 'BEGIN {
    if (v == "") print "MISSED"; else print ((op == ">=" ? v + 0 >= l + 0 : v + 0 <= l + 0) ? "MET" : "MISSED") }')
  local line="$1: $2 $3; baseline $4 $3; ratio $5 (target $6 $7${9:-}) $met"
  echo "  $line"
  results+=("$line")
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a == "" || b == "" || b + 0 == 0) print "n/a"; else printf "%.2f", a / b}'; }

# The broker: topics bench-K (64 partitions) and live-K (4) for each key count.
if [ "$kafka_kind" = real ]; then
  echo "== starting one Apache Kafka broker (scripts/kafka.sh)"
  ./scripts/kafka.sh start --brokers 1 --dir "$work/kafka" 2> "$logs/kafka-start.log" ||
    { cat "$logs/kafka-start.log" >&2; exit 1; }
  # shellcheck disable=SC1091
  source "$work/kafka/env"
  export KAFKA_BOOTSTRAP KAFKA_BROKERS
  kafka=$KAFKA_BOOTSTRAP
  read -r -a broker_pids <<< "$KAFKA_PIDS"
  for k in "${key_counts[@]}"; do
    [ $rekey -eq 1 ] && break
    ./scripts/kafka.sh topic "bench-$k" 64 1 2>> "$logs/kafka-start.log"
    ./scripts/kafka.sh topic "live-$k" 4 1 2>> "$logs/kafka-start.log"
  done
  [ $rekey -eq 1 ] && ./scripts/kafka.sh topic rekey 8 1 2>> "$logs/kafka-start.log"
  echo "  Apache Kafka $KAFKA_VERSION at $kafka"
else
  topics=()
  if [ $rekey -eq 1 ]; then
    # The mock cluster cannot create topics: the repartition topics of the runs, made here.
    topics=(--topic rekey:8)
    for r in $(seq "${RUNS:-3}"); do topics+=(--topic "weir.rekeyed-$r.repartition:8"); done
  else
    for k in "${key_counts[@]}"; do topics+=(--topic "bench-$k:64" --topic "live-$k:4"); done
  fi
  $b/tools/weir-devkafka --port 0 --brokers 1 "${topics[@]}" > "$work/kafka.out" 2> "$logs/devkafka.log" &
  pids+=($!)
  broker_pids=($!)
  kafka=$(line_of "$work/kafka.out" "weir-devkafka bootstrap ")
fi
$b/featurestore/weir-featurestore --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --data-dir "$work/store" \
  > "$work/store.out" 2> "$logs/featurestore.log" &
pids+=($!)
store_pid=$!
store=$(line_of "$work/store.out" "weir-featurestore listening on ")
store_metrics=$(line_of "$work/store.out" "weir-featurestore metrics on ")
$b/coordinator/weir-coordinator --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --data-dir "$work/coordinator" \
  --heartbeat-interval 50 > "$work/coordinator.out" 2> "$logs/coordinator.log" &
pids+=($!)
coordinator=$(line_of "$work/coordinator.out" "weir-coordinator listening on ")
metrics=()
worker_pids=()
for w in w1 w2; do
  "${WORKER_BIN:-$b/worker/weir-worker}" --id $w --coordinator "$coordinator" --metrics-listen 127.0.0.1:0 --data-dir "$work/$w" \
    --log-level warn > "$work/$w.out" 2> "$logs/$w.log" &
  pids+=($!)
  worker_pids+=($!)
  metrics+=("$(line_of "$work/$w.out" "weir-worker $w metrics on ")")
done
weirctl=("$b/cli/weirctl" --coordinator "$coordinator" --store "$store")

# ctl ARGS...: weirctl, tried up to 3 times: on a loaded machine its
# connection to the coordinator can time out. A submit whose earlier attempt
# did reach the coordinator finds its job already running: done.
ctl() {
  local out attempt
  for attempt in 1 2 3; do
    out=$("${weirctl[@]}" "$@" 2>&1) && return 0
    grep -q "is already running" <<< "$out" && [ "$1" = submit ] && [ "$attempt" -gt 1 ] && return 0
    sleep 1
  done
  echo "weirctl $*: $out" >&2
  return 1
}
job() {  # job NAME TOPIC [PARTITIONED_BY]: a job spec on stdout
  cat <<YAML
name: $1
source: { kafka: { brokers: "$kafka", topic: $2, start: earliest }${3:+, partitioned_by: $3} }
key: user_id
event_time: { field: ts }
watermark: { max_out_of_orderness: 2s }
allowed_lateness: 10s
view: $1
features:
  - { name: n_1m, agg: count, window: { tumbling: 1m } }
  - { name: amount_1m, agg: sum, field: amount, window: { tumbling: 1m } }
sink: { feature_store: "$store" }
YAML
}
# hist METRIC FILTER ADDRESS...: the histogram METRIC summed over the
# addresses' /metrics and over its series whose line contains FILTER, as
# "le count" lines.
hist() {
  local metric=$1 filter=$2
  shift 2
  for m in "$@"; do http_get "$m" /metrics; done |
    awk -v m="${metric}_bucket" -v f="$filter" 'index($0, m) == 1 && index($0, f) && match($0, /le="[^"]*"/) {
           c[substr($0, RSTART + 4, RLENGTH - 5)] += $NF
         }
         END {for (l in c) print l, c[l]}' |
    sort -g
}
# quantile BEFORE AFTER Q: the Q quantile, in ms, of what a histogram
# observed between two hist snapshots, interpolated in its bucket; ">LE" when
# beyond the last finite bucket; nothing when nothing was observed.
quantile() {
  awk -v q="$3" 'FILENAME == ARGV[1] {before[$1] = $2; next}
    {le[++n] = $1; c[n] = $2 - before[$1]}
    END {
      total = c[n]
      if (total <= 0) exit
      target = q * total; prev_le = 0; prev_c = 0
      for (i = 1; i <= n; i++) {
        if (c[i] >= target) {
          if (le[i] == "+Inf") { printf ">%.1f\n", prev_le * 1000; exit }
          printf "%.2f\n", (prev_le + (le[i] - prev_le) * (target - prev_c) / (c[i] - prev_c)) * 1000
          exit
        }
        prev_le = le[i]; prev_c = c[i]
      }
    }' "$1" "$2"
}
count_of() { awk '$1 == "+Inf" {n = $2} END {print n + 0}' "$1"; }  # count_of HIST: observations so far

# progress JOB [FROM]: "records rows pending" from the workers' metrics (refreshed
# every heartbeat, 50 ms): the job's records consumed and rows acknowledged
# by the store, and the bytes of rows waiting for the store. Cheaper than
# `weirctl status` (a process and an RPC each time), which would take a
# share of the cores the cluster runs on.
progress() {
  for m in "${metrics[@]}"; do http_get "$m" /metrics; done |
    awk -v j="job=\"$1\"" -v from="${2:-0}" 'index($0, j) && /^weir_worker_records_in_total/ {
        if (match($0, /partition="[0-9]+"/) && substr($0, RSTART + 11, RLENGTH - 12) + 0 < from) next
        r += $NF
      }
      index($0, j) && /^weir_worker_rows_out_total/ {
        if (match($0, /partition="[0-9]+"/) && substr($0, RSTART + 11, RLENGTH - 12) + 0 < from) next
        o += $NF
      }
      /^weir_worker_sink_pending_bytes/ {p += $NF}
      END {printf "%d %d %d\n", r, o, p}'
}
# run_e2e JOB TOPIC RECORDS [PARTITIONED_BY FROM]: submits JOB on TOPIC, which holds RECORDS
# records, and prints "records rows ms", timed from the first record
# consumed to the last row acknowledged by the store. Done once every record
# is in, no row waits for the store, and records and rows have not moved for
# 1 s. With PARTITIONED_BY the job is re-keyed, and only its partitions from
# FROM on (stage 2) count as records.
run_e2e() {
  job "$1" "$2" "${4:-}" > "$work/$1.yaml"
  ctl submit "$work/$1.yaml"
  local first=0 end=0 last="" records=0 rows=0 waiting=0 t
  for _ in $(seq 3000); do
    read -r records rows waiting < <(progress "$1" "${5:-0}")
    t=$(now_ms)
    [ "$first" -eq 0 ] && [ "$records" -gt 0 ] && first=$t
    if [ "$records $rows" != "$last" ]; then
      end=$t
      last="$records $rows"
    elif [ "$records" -ge "$3" ] && [ "$waiting" -eq 0 ] && [ $((t - end)) -ge 1000 ]; then
      break
    fi
    sleep 0.1
  done
  ctl cancel "$1"
  if [ "$end" -le "$first" ] || [ "$records" -lt "$3" ]; then
    echo "job $1 did not finish: $records of $3 records in" >&2
    exit 1
  fi
  echo "$records $rows $((end - first))"
}

# cpu_ms PID...: CPU time (user + system) the processes used so far, in ms.
# Steadier than rates on a shared machine: a before/after comparison of a
# change can use it when other load makes the wall-clock rates swing.
tick=$(getconf CLK_TCK)
cpu_ms() {
  local p
  for p in "$@"; do sed 's/.*) //' "/proc/$p/stat"; done | awk -v t="$tick" '{s += $12 + $13} END {printf "%d\n", s * 1000 / t}'
}
per_event() { awk -v ms="$1" -v n="$2" 'BEGIN {printf "%.2f", (n > 0 ? ms * 1000 / n : 0)}'; }  # per_event MS EVENTS: µs

if [ $rekey -eq 1 ]; then
  k=${key_counts[-1]}
  echo "== 4. re-keying: a re-keyed job against the same job on a topic already partitioned by its key ($runs runs each, interleaved)"
  echo "  producing $events events into rekey (8 partitions, $k keys, keyed by user_id)"
  $b/tools/weir-loadgen --brokers "$kafka" --topic rekey --rate 0 --count "$events" --keys "$k" --disorder 2s \
    --event-step-ms 2 --start-ms 1700000000000 2> "$logs/loadgen-rekey.log"
  plain=()
  rekeyed=()
  for r in $(seq "$runs"); do
    read -r records rows ms < <(run_e2e "plain-$r" rekey "$events")
    plain+=("$((events * 1000 / ms))")
    echo "  run $r: keyed as the topic: $events events, $rows rows in $ms ms = ${plain[-1]} events/s"
    read -r records rows ms < <(run_e2e "rekeyed-$r" rekey "$events" merchant 8)
    rekeyed+=("$((events * 1000 / ms))")
    echo "  run $r: re-keyed: $events events ($records stage-2 messages with markers), $rows rows in $ms ms =" \
      "${rekeyed[-1]} events/s"
  done
  plain_median=$(median "${plain[@]}")
  rekeyed_median=$(median "${rekeyed[@]}")
  r=$(ratio "$rekeyed_median" "$plain_median")
  result "rekey ratio (medians of $runs)" "$rekeyed_median" events/s "$plain_median" "$r" ">=" 0.5 "$r"
  echo "== targets ($kafka_kind broker, $events events per run)"
  printf '%s\n' "${results[@]}"
  exit 0
fi

echo "== 1. throughput: end to end against raw librdkafka consume ($kafka_kind broker, $runs runs each, interleaved)"
for k in "${key_counts[@]}"; do
  echo "  producing $events events into bench-$k (64 partitions, $k keys)"
  $b/tools/weir-loadgen --brokers "$kafka" --topic "bench-$k" --rate 0 --count "$events" --keys "$k" --disorder 2s \
    --event-step-ms 2 --start-ms 1700000000000 2> "$logs/loadgen-bench-$k.log"
  raw=()
  e2e=()
  for r in $(seq "$runs"); do
    broker_before=$(cpu_ms "${broker_pids[@]}")
    # The consumer's own CPU: its subshell's children's, the last line of
    # `times` (unpiped: a piped builtin runs in a child of its own).
    out=$(
      $b/bench/weir_kafka_consume_bench --brokers "$kafka" --topic "bench-$k" || exit 1
      times
    )
    consumer_cpu=$(tail -1 <<< "$out" |
      awk '{split($1, u, /[ms]/); split($2, s, /[ms]/); printf "%d\n", (u[1] * 60 + u[2] + s[1] * 60 + s[2]) * 1000}')
    out=$(head -1 <<< "$out")
    broker_cpu=$(($(cpu_ms "${broker_pids[@]}") - broker_before))
    n=$(awk '{print $3}' <<< "$out")
    echo "  $k keys, run $r: $out; CPU per record: consumer $(per_event "$consumer_cpu" "$n") µs," \
      "broker $(per_event "$broker_cpu" "$n") µs"
    raw+=("$(sed 's/.*= \([0-9]*\) records\/s/\1/' <<< "$out")")
    # What the topic holds (the mock cluster keeps only ~5 MiB per partition).
    held=$n  # what the raw consume read: "raw consume: N records, ..."
    workers_before=$(cpu_ms "${worker_pids[@]}")
    store_before=$(cpu_ms "$store_pid")
    broker_before=$(cpu_ms "${broker_pids[@]}")
    read -r records rows ms < <(run_e2e "bench-$k-$r" "bench-$k" "$held")
    workers_cpu=$(($(cpu_ms "${worker_pids[@]}") - workers_before))
    store_cpu=$(($(cpu_ms "$store_pid") - store_before))
    broker_cpu=$(($(cpu_ms "${broker_pids[@]}") - broker_before))
    rate=$((records * 1000 / ms))
    echo "  $k keys, run $r: end to end: $records events, $rows rows in $ms ms = $rate events/s;" \
      "CPU per event: workers $(per_event "$workers_cpu" "$records") µs, store $(per_event "$store_cpu" "$records") µs," \
      "broker $(per_event "$broker_cpu" "$records") µs"
    e2e+=("$rate")
  done
  raw_median=$(median "${raw[@]}")
  e2e_median=$(median "${e2e[@]}")
  r=$(ratio "$e2e_median" "$raw_median")
  result "end to end / raw consume, $k keys (medians of $runs)" "$e2e_median" events/s "$raw_median" "$r" ">=" 0.9 "$r"
done

echo "== 2. window close -> readable (live stream of 20000 events/s, 20 s of event time per second)"
for k in "${key_counts[@]}"; do
  limit=30
  [ "$k" -le 1000 ] && limit=10
  job "live-$k" "live-$k" > "$work/live-$k.yaml"
  ctl submit "$work/live-$k.yaml"
  sleep 1
  hist weir_worker_row_ack_latency_seconds "job=\"live-$k\"" "${metrics[@]}" > "$work/ack-before"
  hist weir_store_write_seconds "" "$store_metrics" > "$work/write-before"
  $b/tools/weir-loadgen --brokers "$kafka" --topic "live-$k" --rate 20000 --count 400000 --keys "$k" --disorder 2s \
    --event-step-ms 1 2> "$logs/loadgen-live-$k.log"
  sleep 2
  hist weir_worker_row_ack_latency_seconds "job=\"live-$k\"" "${metrics[@]}" > "$work/ack-after"
  hist weir_store_write_seconds "" "$store_metrics" > "$work/write-after"
  ctl cancel "live-$k"
  p50=$(quantile "$work/ack-before" "$work/ack-after" 0.5)
  p99=$(quantile "$work/ack-before" "$work/ack-after" 0.99)
  write_p99=$(quantile "$work/write-before" "$work/write-after" 0.99)
  echo "  $k keys: row ack p50 ${p50:-n/a} ms, p99 ${p99:-n/a} ms over" \
    "$(($(count_of "$work/ack-after") - $(count_of "$work/ack-before"))) rows; store synced write p99" \
    "${write_p99:-n/a} ms over $(($(count_of "$work/write-after") - $(count_of "$work/write-before"))) writes"
  result "window close -> readable p99 / store write p99, $k keys" "${p99:-n/a}" ms "${write_p99:-n/a}" \
    "$(ratio "${p99#>}" "${write_p99#>}")" "<=" "$limit" "${p99#>}" " ms"
done

k=${key_counts[-1]}
echo "== 3. GetOnlineFeatures at $read_rate req/s (keys of view bench-$k-1)"
hist weir_store_read_seconds "" "$store_metrics" > "$work/read-before"
$b/bench/weir_online_read_bench --store "$store" --view "bench-$k-1" --keys "$k" --rate "$read_rate" --seconds 10 \
  --threads 4 | tee "$work/read.out" | sed 's/^/  /'
hist weir_store_read_seconds "" "$store_metrics" > "$work/read-after"
read_p99=$(sed -n 's/.* p99 \([0-9.]*\) .*/\1/p' "$work/read.out" | head -1)
store_read_p99=$(quantile "$work/read-before" "$work/read-after" 0.99)
result "online read p99 / store read p99, $read_rate req/s" "${read_p99:-n/a}" ms "${store_read_p99:-n/a}" \
  "$(ratio "$read_p99" "${store_read_p99#>}")" "<=" 2 "$read_p99" " ms"

echo "== targets ($kafka_kind broker, $events events per throughput run)"
printf '%s\n' "${results[@]}"
