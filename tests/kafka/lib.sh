# Helpers of the tests on a real Kafka; source tests/integration/lib.sh first.

# secured_job NAME PASSWORD_FILE [TOPIC]: a job spec on stdout that reads TOPIC
# (default events) over the SASL_SSL listener of the cluster in the
# environment (KAFKA_SASL_BOOTSTRAP, KAFKA_CA), the password as a
# ${file:...} reference, into the store at $store; view NAME, a 1-minute
# count per user_id.
secured_job() {
  cat <<YAML
name: $1
source:
  kafka:
    brokers: "$KAFKA_SASL_BOOTSTRAP"
    topic: ${3:-events}
    start: earliest
    properties:
      security.protocol: SASL_SSL
      # Debian's librdkafka 2.0.2 cannot do SCRAM with Kafka 4 (docs/kafka.md).
      sasl.mechanism: PLAIN
      sasl.username: weir
      sasl.password: "\${file:$2}"
      ssl.ca.location: "$KAFKA_CA"
key: user_id
event_time: { field: ts, unit: ms }
watermark: { max_out_of_orderness: 1s }
view: $1
features:
  - { name: n_1m, agg: count, window: { tumbling: 1m } }
sink: { feature_store: "$store" }
YAML
}

# produce_users TOPIC FROM TO: records FROM..TO-1, keyed by one of 10 users, a
# second apart, through the plaintext listener ($KAFKA_BOOTSTRAP).
produce_users() {
  local t0=1699999980000 i
  for i in $(seq "$2" $(($3 - 1))); do
    echo "u$((i % 10)):{\"user_id\":\"u$((i % 10))\",\"ts\":$((t0 + i * 1000))}"
  done | timeout 30 kcat -b "$KAFKA_BOOTSTRAP" -P -t "$1" -K: || fail "kcat produce to $1 failed"
}

# replay_reference JOB_YAML TOPIC PARTITIONS: $tmp/expected.sorted, the rows
# of `weirctl replay` of each partition as Kafka holds it now (plaintext
# listener), sorted.
replay_reference() {
  local p
  : > "$tmp/expected"
  for p in $(seq 0 $(($3 - 1))); do
    timeout 30 kcat -b "$KAFKA_BOOTSTRAP" -C -t "$2" -p "$p" -o beginning -e -f '%s\n' > "$tmp/p$p.jsonl" 2>/dev/null ||
      fail "kcat consume of $2 partition $p failed"
    "$weirctl" replay --job "$1" --input "$tmp/p$p.jsonl" --partition "$p" -q >> "$tmp/expected" ||
      fail "replay of $2 partition $p failed"
  done
  sort "$tmp/expected" > "$tmp/expected.sorted"
  [ "$(wc -l < "$tmp/expected.sorted")" -gt 10 ] || fail "the reference has only $(wc -l < "$tmp/expected.sorted") rows"
}

# wait_rows VIEW SECONDS REFERENCE_VIEW: until the store's export of VIEW, with
# its view renamed REFERENCE_VIEW, equals $tmp/expected.sorted; fails after
# SECONDS (or when $worker_pid exits), showing the difference.
wait_rows() {
  for _ in $(seq $(($2 * 2))); do
    "$weirctl" features export --view "$1" --output "$tmp/export-$1" 2>/dev/null || true
    sed "s/\"view\":\"$1\"/\"view\":\"$3\"/" "$tmp/export-$1" 2>/dev/null | sort > "$tmp/export-$1.sorted" || true
    cmp -s "$tmp/export-$1.sorted" "$tmp/expected.sorted" && return 0
    kill -0 "$worker_pid" 2>/dev/null || fail "the worker exited"
    sleep 0.5
  done
  diff "$tmp/expected.sorted" "$tmp/export-$1.sorted" | head -10 >&2
  fail "job $1: the store's rows differ from the reference after $2 s (above: < reference, > store)"
}

# wait_status JOB PATTERN SECONDS: until `weirctl status JOB` matches PATTERN
# (grep -Ei); its output is left in $tmp/JOB.status.
wait_status() {
  for _ in $(seq $(($3 * 2))); do
    "$weirctl" status "$1" > "$tmp/$1.status" 2>&1 || true
    grep -Eqi "$2" "$tmp/$1.status" && return 0
    sleep 0.5
  done
  fail "weirctl status $1 does not show /$2/ within $3 s: $(cat "$tmp/$1.status")"
}

# restart_broker valid|expired: node 1 of $tmp/kafka stopped, its certificate
# signed again (kafka.sh cert), started, and up on its plaintext listener.
restart_broker() {
  "$kafka" stop-node "$tmp/kafka" 1
  "$kafka" cert "$tmp/kafka" "$1"
  track "$("$kafka" start-node "$tmp/kafka" 1)"
  for _ in $(seq 120); do
    timeout 5 kcat -b "$KAFKA_BOOTSTRAP" -L -m 3 > /dev/null 2>&1 && return 0
    sleep 0.5
  done
  fail "the broker is not up 60 s after its restart"
}

# start_kafka ARGS...: scripts/kafka.sh start ARGS (--brokers N, --sasl-ssl)
# in $tmp/kafka; its nodes tracked, KAFKA_* from its env file exported.
start_kafka() {
  "$kafka" start "$@" --dir "$tmp/kafka" 2> "$tmp/kafka-start.log" || fail "kafka.sh start failed"
  source "$tmp/kafka/env"
  local pid
  for pid in $KAFKA_PIDS; do track "$pid"; done
  export KAFKA_BOOTSTRAP KAFKA_BROKERS
}

# secured_cluster: one broker with a SASL_SSL listener (kafka.sh --sasl-ssl)
# in $tmp/kafka with topic `events` (2 partitions), then the store, the
# coordinator and worker w1 ($featurestore, $coordinator, $worker); sets
# $password and exports KAFKA_*, WEIR_COORDINATOR and WEIR_STORE.
secured_cluster() {
  start_kafka --brokers 1 --sasl-ssl
  password=$(cat "$tmp/kafka/sasl-password")
  "$kafka" topic events 2 1 2>> "$tmp/topic.log" || fail "creating events failed"
  start_store "$featurestore"
  start_coordinator "$coordinator"
  export WEIR_COORDINATOR=$coord WEIR_STORE=$store
  start_worker "$worker" w1
}
