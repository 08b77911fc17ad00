#!/usr/bin/env bash
# The cross-check (ctest label `peers`): on a stream with no late events,
# Flink's rows equal Weir's, key for key and window for window, for the
# tumbling (1m count and sum) and sliding (1h/1m sum) features, and the
# session (gap 30s) count as well. Flink is an independent implementation of
# the same semantics (docs/semantics.md), so agreeing with it checks ours.
#
#   tests/peers/cross_check.sh WEIRCTL LOADGEN
#
# One real Kafka broker (scripts/kafka.sh); weir-loadgen produces EVENTS
# (default 20000) events of 400 keys into a 4-partition topic, event time
# +20 ms per event, disorder up to 1s (the watermark delay is 2s: none late).
# Flink 2.x runs bench/peers' FlinkFeatures in-process (a MiniCluster),
# bounded to the topic's end, so every window fires at the end as `weirctl
# replay --flush` fires them; Weir replays each partition on its own, as a
# worker runs it (TopicDump writes them out). tests/peers/compare_rows.py
# compares the two.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
weirctl=$1
loadgen=$2
events=${EVENTS:-20000}
work=$(mktemp -d)
cleanup() {
  [ -f "$work/kafka/env" ] && { "$root/scripts/kafka.sh" stop --dir "$work/kafka" || true; }
  rm -rf "$work"
}
trap cleanup EXIT

cp=$("$root/scripts/peers-java.sh" classpath flink)
"$root/scripts/peers-java.sh" log4j "$work/log4j2.properties"
java=(java "-Dlog4j2.configurationFile=$work/log4j2.properties" -cp "$cp")

"$root/scripts/kafka.sh" start --dir "$work/kafka" > /dev/null
# shellcheck disable=SC1091
source "$work/kafka/env"
export KAFKA_BOOTSTRAP
"$root/scripts/kafka.sh" topic events 4 1 > /dev/null
"$loadgen" --brokers "$KAFKA_BOOTSTRAP" --topic events --rate 0 --count "$events" --keys 400 --disorder 1s \
  --event-step-ms 20 --start-ms 1700000000000 > /dev/null

"${java[@]}" dev.weir.peers.FlinkFeatures --bootstrap "$KAFKA_BOOTSTRAP" --topic events --bounded true \
  --delay-ms 2000 --checkpoint-dir "$work/flink-checkpoints" --rows "$work/flink.jsonl" > "$work/flink.out" ||
  { echo "cross_check: the Flink job failed" >&2; exit 1; }

"${java[@]}" dev.weir.peers.TopicDump --bootstrap "$KAFKA_BOOTSTRAP" --topic events --dir "$work/partitions"
cat > "$work/job.yaml" <<YAML
name: bench
source: { kafka: { brokers: "$KAFKA_BOOTSTRAP", topic: events, start: earliest } }
key: user_id
event_time: { field: ts, unit: ms }
watermark: { max_out_of_orderness: 2s }
allowed_lateness: 0s
view: bench
sink: { feature_store: "127.0.0.1:7070" }
features:
  - { name: amount_count_1m, agg: count, window: { tumbling: 1m } }
  - { name: amount_sum_1m, agg: sum, field: amount, window: { tumbling: 1m } }
  - { name: amount_sum_1h, agg: sum, field: amount, window: { sliding: { size: 1h, slide: 1m } } }
  - { name: session_count, agg: count, window: { session: { gap: 30s } } }
YAML
: > "$work/weir.jsonl"
for f in "$work"/partitions/partition-*.jsonl; do
  p=${f##*partition-}
  p=${p%.jsonl}
  # A dead letter would be a late event: the stream is meant to have none.
  "$weirctl" replay --job "$work/job.yaml" --input "$f" --partition "$p" --flush --dead-letter "$work/dead-$p.jsonl" \
    >> "$work/weir.jsonl"
  [ ! -s "$work/dead-$p.jsonl" ] || { echo "cross_check: partition $p has dead letters" >&2; exit 1; }
done

python3 "$root/tests/peers/compare_rows.py" "$work/weir.jsonl" "$work/flink.jsonl" \
  --feature amount_count_1m --feature amount_sum_1m --feature amount_sum_1h --feature session_count
