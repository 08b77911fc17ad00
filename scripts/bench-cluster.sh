#!/usr/bin/env bash
# End-to-end benchmarks of a local cluster (Release build), printing figures:
#  1. Throughput: events/s through weir-devkafka -> 2 workers -> feature store,
#     against the raw librdkafka consume rate of the same topic in the same run
#     (weir_kafka_consume_bench). Target ratio >= 0.8.
#  2. Latency from a window's close (the watermark passing its end) to the
#     row acknowledged by the store, durable and readable: p50/p99 from the
#     workers' weir_worker_row_ack_latency_seconds histogram, under a steady
#     live stream. Target p99 <= 50 ms.
#  3. GetOnlineFeatures p50/p99 at a fixed request rate on loopback
#     (weir_online_read_bench, open loop). Target p99 <= 2 ms at 10k req/s.
# Everything shares this machine's cores: the figures are for the whole
# cluster on one box, not per process.
#   EVENTS=2000000 RUNS=3 READ_RATE=10000 KEYS=10000 ./scripts/bench-cluster.sh
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh >/dev/null
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-release --target weirctl weir-devkafka weir-loadgen weir-featurestore weir-coordinator \
  weir-worker weir_kafka_consume_bench weir_online_read_bench

events=${EVENTS:-2000000}
runs=${RUNS:-3}
read_rate=${READ_RATE:-10000}
keys=${KEYS:-10000}
b=build-release
work=$(mktemp -d)
logs=logs/bench-cluster
rm -rf "$logs" && mkdir -p "$logs"
pids=()
cleanup() {
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -TERM "${pids[$i]}" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

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

$b/tools/weir-devkafka --port 0 --brokers 1 --topic bench:64 --topic live:4 > "$work/kafka.out" 2> "$logs/devkafka.log" &
pids+=($!)
kafka=$(line_of "$work/kafka.out" "weir-devkafka bootstrap ")
$b/featurestore/weir-featurestore --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --data-dir "$work/store" \
  > "$work/store.out" 2> "$logs/featurestore.log" &
pids+=($!)
store=$(line_of "$work/store.out" "weir-featurestore listening on ")
$b/coordinator/weir-coordinator --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --data-dir "$work/coordinator" \
  --heartbeat-interval 50 > "$work/coordinator.out" 2> "$logs/coordinator.log" &
pids+=($!)
coordinator=$(line_of "$work/coordinator.out" "weir-coordinator listening on ")
metrics=()
for w in w1 w2; do
  $b/worker/weir-worker --id $w --coordinator "$coordinator" --metrics-listen 127.0.0.1:0 --data-dir "$work/$w" \
    --log-level warn > "$work/$w.out" 2> "$logs/$w.log" &
  pids+=($!)
  metrics+=("$(line_of "$work/$w.out" "weir-worker $w metrics on ")")
done
weirctl=($b/cli/weirctl --coordinator "$coordinator" --store "$store")

job() {  # job NAME TOPIC: a job spec on stdout
  cat <<YAML
name: $1
source: { kafka: { brokers: "$kafka", topic: $2, start: earliest } }
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
# totals JOB: "records_in rows_out" summed over the job's partitions.
totals() {
  "${weirctl[@]}" status "$1" --json | grep -oE '"(records_in|rows_out)":"?[0-9]+' |
    awk -F'"' '{v = $4 == "" ? substr($3, 2) : $4} $2 == "records_in" {r += v} $2 == "rows_out" {o += v}
      END {printf "%d %d\n", r, o}'
}

echo "== producing $events events into bench (64 partitions, $keys keys)"
$b/tools/weir-loadgen --brokers "$kafka" --topic bench --rate 0 --count "$events" --keys "$keys" --disorder 2s \
  --event-step-ms 2 --start-ms 1700000000000 2> "$logs/loadgen-bench.log"

echo "== 1. throughput ($runs runs each)"
raw=()
for r in $(seq "$runs"); do
  out=$($b/bench/weir_kafka_consume_bench --brokers "$kafka" --topic bench)
  echo "  $out"
  raw+=("$(sed 's/.*= \([0-9]*\) records\/s/\1/' <<< "$out")")
done
e2e=()
for r in $(seq "$runs"); do
  job "bench-$r" bench > "$work/bench-$r.yaml"
  "${weirctl[@]}" submit "$work/bench-$r.yaml" > /dev/null
  # From the first record consumed to the last row acknowledged by the store:
  # done once records and rows have not moved for 1 s. (Records are counted,
  # not assumed: the mock cluster keeps only ~5 MiB per partition.)
  first=0
  end=0
  last=""
  for _ in $(seq 6000); do
    read -r records rows < <(totals "bench-$r")
    t=$(now_ms)
    [ "$first" -eq 0 ] && [ "$records" -gt 0 ] && first=$t
    if [ "$records $rows" != "$last" ]; then
      end=$t
      last="$records $rows"
    elif [ "$records" -gt 0 ] && [ $((t - end)) -ge 1000 ]; then
      break
    fi
    sleep 0.02
  done
  [ "$end" -gt "$first" ] || { echo "run $r did not finish" >&2; exit 1; }
  rate=$((records * 1000 / (end - first)))
  echo "  end-to-end run $r: $records events, $rows rows in $((end - first)) ms = $rate events/s"
  e2e+=("$rate")
  "${weirctl[@]}" cancel "bench-$r" > /dev/null
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
raw_median=$(median "${raw[@]}")
e2e_median=$(median "${e2e[@]}")
echo "  median: raw consume $raw_median records/s, end-to-end $e2e_median events/s," \
  "ratio $(awk -v a="$e2e_median" -v b="$raw_median" 'BEGIN {printf "%.2f", a / b}') (target >= 0.80)"

echo "== 2. window close -> readable latency (live stream, 20000 events/s, 20 s of event time per second)"
hist() {  # the workers' row-ack histogram buckets summed over workers and jobs: "le count" lines
  for m in "${metrics[@]}"; do http_get "$m" /metrics; done |
    awk '/^weir_worker_row_ack_latency_seconds_bucket/ && match($0, /le="[^"]*"/) {
           c[substr($0, RSTART + 4, RLENGTH - 5)] += $NF
         }
         END {for (l in c) print l, c[l]}' |
    sort -g
}
job live live > "$work/live.yaml"
"${weirctl[@]}" submit "$work/live.yaml" > /dev/null
sleep 1
hist > "$work/hist-before"
$b/tools/weir-loadgen --brokers "$kafka" --topic live --rate 20000 --count 200000 --keys "$keys" --disorder 2s \
  --event-step-ms 1 2> "$logs/loadgen-live.log"
sleep 2
hist > "$work/hist-after"
join "$work/hist-before" "$work/hist-after" | awk '
  {le[NR] = $1; n[NR] = $3 - $2}
  END {
    total = n[NR]
    if (total == 0) { print "  no windows closed"; exit }
    split("0.5 0.99", qs, " ")
    for (k = 1; k <= 2; k++) {
      target = qs[k] * total; prev_le = 0; prev_n = 0
      for (i = 1; i <= NR; i++) {
        if (n[i] >= target) {
          v = (le[i] == "+Inf") ? prev_le : prev_le + (le[i] - prev_le) * (target - prev_n) / (n[i] - prev_n)
          printf "  p%s: %.1f ms", qs[k] * 100, v * 1000
          break
        }
        prev_le = le[i]; prev_n = n[i]
      }
    }
    printf "  (%d row batches; target p99 <= 50 ms)\n", total
  }'

echo "== 3. GetOnlineFeatures at $read_rate req/s (keys of view bench-1)"
$b/bench/weir_online_read_bench --store "$store" --view bench-1 --keys "$keys" --rate "$read_rate" --seconds 10 \
  --threads 4 | sed 's/^/  /'
