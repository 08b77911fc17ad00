#!/usr/bin/env bash
# Weir on a real Apache Kafka (scripts/kafka.sh): 3 KRaft brokers, topic
# `events` with 4 partitions, replication factor 3 and min.insync.replicas 2.
# The records are written by an independent client, Kafka's own Java console
# producer from the same jars. A worker, the coordinator and the store run
# the interop job (tests/integration/cluster/job.yaml.in), and:
#  - the store equals `weirctl replay` of each partition, row for row;
#  - the dead letters are readable with Kafka's Java console consumer, with
#    their headers (reason, source partition and offset), in the dead-letter
#    topic the coordinator created with the source's replication factor.
#   interop_test.sh WEIRCTL FEATURESTORE COORDINATOR WORKER
set -euo pipefail
weirctl=$1
featurestore=$2
coordinator=$3
worker=$4
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$here/../integration/lib.sh"
source "$here/lib.sh"
command -v kcat >/dev/null || fail "kcat is not installed (scripts/setup.sh installs it)"
kafka="$root/scripts/kafka.sh"

started=$SECONDS
start_kafka --brokers 3
echo "kafka: $KAFKA_BROKERS brokers of Apache Kafka $KAFKA_VERSION up in $((SECONDS - started)) s"
"$kafka" topic events 4 3 --config min.insync.replicas=2 2> "$tmp/topic.log" || fail "creating events failed"

# The records: a deterministic stream over 20 keys with disorder, late
# records and three that cannot be used (not JSON, no key, a bad time).
t0=1699999980000
{
  for i in $(seq 0 799); do
    key="u$(((i * 7) % 20))"
    ts=$((t0 + i * 1000 + ((i * 37) % 11 - 5) * 1000))
    [ $((i % 40)) -eq 39 ] && ts=$((ts - 25000))
    types=(click view buy)
    echo "$key:{\"user_id\":\"$key\",\"ts\":$ts,\"amount\":$(((i * 13) % 50)).5,\"type\":\"${types[$((i % 3))]}\"}"
  done
  echo "bad:this is not json"
  echo "bad:{\"ts\":$((t0 + 1000))}"
  echo "bad:{\"user_id\":\"bad\",\"ts\":\"yesterday\"}"
} > "$tmp/records"
"$kafka" tool org.apache.kafka.tools.ConsoleProducer --bootstrap-server "$KAFKA_BOOTSTRAP" --topic events \
  --property parse.key=true --property key.separator=: --producer-property acks=all \
  < "$tmp/records" 2> "$tmp/producer.log" || fail "the Java console producer failed"

start_store "$featurestore"
start_coordinator "$coordinator"
export WEIR_COORDINATOR=$coord WEIR_STORE=$store
start_worker "$worker" w1

sed -e "s|@BOOTSTRAP@|$KAFKA_BOOTSTRAP|" -e "s|@STORE@|$store|" "$root/tests/integration/cluster/job.yaml.in" \
  > "$tmp/job.yaml"
"$weirctl" submit "$tmp/job.yaml" > "$tmp/submit.out" 2>&1 || fail "submit: $(cat "$tmp/submit.out")"

# The reference: each partition as Kafka holds it, replayed.
replay_reference "$tmp/job.yaml" events 4
[ "$(cat "$tmp"/p?.jsonl | wc -l)" -eq "$(wc -l < "$tmp/records")" ] ||
  fail "Kafka holds $(cat "$tmp"/p?.jsonl | wc -l) records, the producer sent $(wc -l < "$tmp/records")"
[ "$(wc -l < "$tmp/expected.sorted")" -gt 500 ] || fail "the reference has only $(wc -l < "$tmp/expected.sorted") rows"

wait_rows interop 60 interop
echo "interop: $(wc -l < "$tmp/export-interop.sorted") rows in the store, equal to replay of each partition"

# The dead letters, read by Kafka's Java consumer with their headers.
"$kafka" tool org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server "$KAFKA_BOOTSTRAP" \
  --topic interop.dlq --from-beginning --max-messages 3 --timeout-ms 30000 \
  --property print.headers=true --property print.key=true > "$tmp/dlq" 2> "$tmp/consumer.log" ||
  fail "the Java console consumer could not read 3 dead letters: $(cat "$tmp/dlq")"
expect_dead() {  # REASON TEXT: a dead letter with that reason header, source coordinates and record
  grep -F "reason:$1" "$tmp/dlq" | grep -F "$2" | grep -Eq "partition:[0-3],offset:[0-9]+" ||
    fail "no $1 dead letter with its headers for '$2' in: $(cat "$tmp/dlq")"
}
expect_dead decode "this is not json"
expect_dead missing_field "{\"ts\":$((t0 + 1000))}"
expect_dead bad_type '"yesterday"'
echo "dead letters: 3 read by the Java consumer, with reason, partition and offset headers"
# The coordinator created the dead-letter topic, with the source's replication factor.
replicas=$(timeout 30 kcat -b "$KAFKA_BOOTSTRAP" -L -J -t interop.dlq |
  python3 -c 'import json, sys; print(len(json.load(sys.stdin)["topics"][0]["partitions"][0]["replicas"]))')
[ "$replicas" = 3 ] || fail "interop.dlq has replication factor $replicas, want the source's 3"
grep -q '^found topic "events" at .*: 4 partitions, replication factor 3; dead-letter topic "interop.dlq" created (1 partition, replication factor 3)$' "$tmp/submit.out" ||
  fail "submit does not say the coordinator created interop.dlq: $(cat "$tmp/submit.out")"
echo "dead-letter topic: created by the coordinator with replication factor 3"

stop_gracefully $worker_pid weir-worker
stop_gracefully $coordinator_pid weir-coordinator
"$kafka" stop --dir "$tmp/kafka" || fail "kafka.sh stop failed"
echo "kafka interop: all checks passed"
