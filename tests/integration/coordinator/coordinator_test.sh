#!/usr/bin/env bash
# weir-coordinator with weirctl's job commands, as a user runs them, on
# loopback ports it picks itself, against weir-devkafka: a job is submitted
# and its topic's partitions discovered; list and status show them unassigned
# (no workers here; the worker protocol is covered by weir_coordinator_tests);
# bad specs and unknown jobs exit 2 naming what is wrong; a missing topic
# leaves the job pending with the reason; cancel works; the jobs survive
# kill -9; a taken port, a corrupt state file, an unreachable coordinator and
# weirctl features aimed at the coordinator are clear errors. weirctl events
# lists what happened, filtered by job, as JSON, and follows new events until
# interrupted.
#   coordinator_test.sh WEIRCTL WEIR_COORDINATOR WEIR_DEVKAFKA
set -euo pipefail
weirctl=$1
coordinator=$2
devkafka=$3
source "$(dirname "$0")/../lib.sh"

# Starts the coordinator on free ports over $tmp/data; sets $pid, $coord and $metrics.
start_coordinator() {
  "$coordinator" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --data-dir "$tmp/data" --log-level info \
    > "$tmp/coordinator.out" 2>> "$tmp/coordinator.log" &
  pid=$!
  track $pid
  coord=$(wait_for_line "$tmp/coordinator.out" "weir-coordinator listening on " $pid)
  metrics=$(wait_for_line "$tmp/coordinator.out" "weir-coordinator metrics on " $pid)
}

start_devkafka "$devkafka" --topic events:4
bootstrap=$kafka

start_coordinator
export WEIR_COORDINATOR=$coord
http_get "$metrics" /healthz | grep -q "^HTTP/1.0 200" || fail "/healthz is not 200"
http_get "$metrics" /readyz | grep -q "^ready" || fail "/readyz is not ready"

timeout 20 "$weirctl" list > "$tmp/list.txt" || fail "list on an empty coordinator: $(cat "$tmp/list.txt")"
grep -q "^no jobs" "$tmp/list.txt" || fail "empty list: $(cat "$tmp/list.txt")"

# 1. Submit: the topic's 4 partitions are discovered at once.
write_job() {  # write_job FILE NAME TOPIC [EXTRA_FEATURE_LINE]
  cat > "$1" <<YAML
name: $2
source:
  kafka: { brokers: "$bootstrap", topic: $3, start: earliest }
key: user_id
event_time: { field: ts, unit: ms }
watermark: { max_out_of_orderness: 5s }
view: user_clicks
features:
  - { name: clicks_1m, agg: count, window: { tumbling: 1m } }
${4:-}
sink: { feature_store: "127.0.0.1:7070" }
YAML
}
write_job "$tmp/clicks.yaml" clicks events
timeout 20 "$weirctl" submit "$tmp/clicks.yaml" > "$tmp/submit.txt" 2>&1 || fail "submit: $(cat "$tmp/submit.txt")"
[ "$(head -1 "$tmp/submit.txt")" = "submitted clicks (4 partitions)" ] || fail "submit printed: $(cat "$tmp/submit.txt")"
# What discovery found (weir-devkafka's mock never answers CreateTopics: the dead-letter topic is left to first use).
grep -q '^found topic "events" at .*: 4 partitions, replication factor 1; dead-letter topic "clicks.dlq" ' "$tmp/submit.txt" ||
  fail "submit does not say what discovery found: $(cat "$tmp/submit.txt")"

# The same name again, while it runs: refused, exit 2.
expect_exit 2 "$tmp/again.txt" timeout 20 "$weirctl" submit "$tmp/clicks.yaml"
grep -q 'job "clicks" is already running' "$tmp/again.txt" || fail "resubmit message: $(cat "$tmp/again.txt")"
# --if-absent (Kubernetes submit Jobs): a running job of that name is a success, left as it is.
timeout 20 "$weirctl" submit --if-absent "$tmp/clicks.yaml" > "$tmp/absent.txt" 2>&1 ||
  fail "submit --if-absent of a running job: $(cat "$tmp/absent.txt")"
grep -q '^not submitted: job "clicks" is already running' "$tmp/absent.txt" || fail "--if-absent: $(cat "$tmp/absent.txt")"

# 2. list and status: 4 partitions, all unassigned (no workers).
timeout 20 "$weirctl" list > "$tmp/list.txt"
head -1 "$tmp/list.txt" | grep -Eq "^NAME +STATE +PARTITIONS +SUBMITTED +VIEW +TOPIC$" || fail "list header: $(cat "$tmp/list.txt")"
grep -Eq "^clicks +running +4 +[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z +user_clicks +events$" "$tmp/list.txt" ||
  fail "list: $(cat "$tmp/list.txt")"
timeout 20 "$weirctl" status clicks > "$tmp/status.txt" || fail "status: $(cat "$tmp/status.txt")"
grep -Eq "^job: +clicks$" "$tmp/status.txt" || fail "status header: $(cat "$tmp/status.txt")"
grep -Eq "^state: +running$" "$tmp/status.txt" || fail "status state: $(cat "$tmp/status.txt")"
grep -Eq "^topic: +events at $bootstrap$" "$tmp/status.txt" || fail "status topic: $(cat "$tmp/status.txt")"
grep -Eq "^partitions: +4$" "$tmp/status.txt" || fail "status partitions: $(cat "$tmp/status.txt")"
grep -Eq "^PARTITION +OWNER +EPOCH +STATE +OFFSET +WATERMARK +LAG +RECORDS +ROWS +DEAD$" "$tmp/status.txt" ||
  fail "status table header: $(cat "$tmp/status.txt")"
[ "$(grep -Ec '^[0-3] +- +0 +unassigned +- +- +- +0 +0 +0$' "$tmp/status.txt")" -eq 4 ] ||
  fail "want 4 unassigned partitions: $(cat "$tmp/status.txt")"
timeout 20 "$weirctl" status clicks --json > "$tmp/status.json"
[ "$(grep -o '"owner":""' "$tmp/status.json" | wc -l)" -eq 4 ] || fail "status --json: $(cat "$tmp/status.json")"
grep -q '"state":"JOB_STATE_RUNNING"' "$tmp/status.json" || fail "status --json state: $(cat "$tmp/status.json")"
timeout 20 "$weirctl" workers > "$tmp/workers.txt"
grep -q "^no workers registered" "$tmp/workers.txt" || fail "workers: $(cat "$tmp/workers.txt")"

# 3. Bad input: exit 2, naming the path in the spec; unknown jobs exit 2.
write_job "$tmp/bad.yaml" bad events "  - { name: s, agg: sum, field: amount, window: { sliding: { size: 1h, slide: 7m } } }"
expect_exit 2 "$tmp/bad.txt" timeout 20 "$weirctl" submit "$tmp/bad.yaml"
grep -q "features\[1\].window.sliding.slide" "$tmp/bad.txt" || fail "bad spec message: $(cat "$tmp/bad.txt")"
expect_exit 2 "$tmp/nofile.txt" timeout 20 "$weirctl" submit "$tmp/nope.yaml"
grep -q "nope.yaml" "$tmp/nofile.txt" || fail "missing file message: $(cat "$tmp/nofile.txt")"
expect_exit 2 "$tmp/unknown.txt" timeout 20 "$weirctl" status nope
grep -q 'no job named "nope"' "$tmp/unknown.txt" || fail "unknown job message: $(cat "$tmp/unknown.txt")"
expect_exit 2 "$tmp/unknown.txt" timeout 20 "$weirctl" cancel nope
expect_exit 2 "$tmp/usage.txt" timeout 20 "$weirctl" status
expect_exit 0 "$tmp/help.txt" timeout 20 "$weirctl" status --help
grep -q -- "--json" "$tmp/help.txt" || fail "status --help: $(cat "$tmp/help.txt")"

# 4. A missing topic: accepted, pending with the reason, retried.
write_job "$tmp/missing.yaml" missing no-such-topic
timeout 20 "$weirctl" submit "$tmp/missing.yaml" > "$tmp/missing.txt" 2>&1 || fail "submit missing: $(cat "$tmp/missing.txt")"
grep -q '^submitted missing (partitions pending: topic "no-such-topic" does not exist' "$tmp/missing.txt" ||
  fail "pending submit: $(cat "$tmp/missing.txt")"
timeout 20 "$weirctl" status missing > "$tmp/status.txt"
grep -Eq '^partitions: +pending \(topic "no-such-topic" does not exist' "$tmp/status.txt" ||
  fail "pending status: $(cat "$tmp/status.txt")"
timeout 20 "$weirctl" list | grep -Eq "^missing +running +pending " || fail "pending in list"

# 5. Cancel.
[ "$(timeout 20 "$weirctl" cancel missing)" = "cancelled missing" ] || fail "cancel"
timeout 20 "$weirctl" list | grep -Eq "^missing +cancelled " || fail "cancelled job not listed as cancelled"
http_get "$metrics" /metrics > "$tmp/metrics.txt"
grep -q '^weir_coordinator_jobs{state="running"} 1$' "$tmp/metrics.txt" || fail "jobs gauge: $(grep jobs "$tmp/metrics.txt")"
grep -q '^weir_coordinator_jobs{state="cancelled"} 1$' "$tmp/metrics.txt" || fail "cancelled gauge"
grep -q '^weir_coordinator_workers{state="alive"} 0$' "$tmp/metrics.txt" || fail "workers gauge"
grep -q '^weir_coordinator_heartbeats_total 0$' "$tmp/metrics.txt" || fail "heartbeats counter"
grep -q '^weir_coordinator_partition_moves_total 0$' "$tmp/metrics.txt" || fail "moves counter"

# 5b. The event log: each submission, what discovery found or why it failed,
# and the cancellation, oldest first, one line each.
ts='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z'
timeout 20 "$weirctl" events > "$tmp/events.txt" || fail "events: $(cat "$tmp/events.txt")"
[ "$(wc -l < "$tmp/events.txt")" -eq 5 ] || fail "want 5 events: $(cat "$tmp/events.txt")"
grep -Eq "^$ts  job-submitted +clicks  job clicks submitted \(topic events at $bootstrap\)$" "$tmp/events.txt" ||
  fail "events: no submission of clicks: $(cat "$tmp/events.txt")"
grep -Eq "^$ts  job-cancelled +missing  job missing cancelled$" "$tmp/events.txt" ||
  fail "events: no cancellation of missing: $(cat "$tmp/events.txt")"
grep -Eq "^$ts  topic-found +clicks  topic \"events\" at $bootstrap: 4 partitions" "$tmp/events.txt" ||
  fail "events: no topic-found of clicks: $(cat "$tmp/events.txt")"
grep -Eq "^$ts  discovery-failed +missing  partitions unknown \(retrying\): topic \"no-such-topic\" does not exist" \
  "$tmp/events.txt" || fail "events: no discovery-failed of missing: $(cat "$tmp/events.txt")"
timeout 20 "$weirctl" events --job missing > "$tmp/events-missing.txt"
[ "$(grep -c ' missing  ' "$tmp/events-missing.txt")" -eq 3 ] && [ "$(wc -l < "$tmp/events-missing.txt")" -eq 3 ] ||
  fail "events --job missing: $(cat "$tmp/events-missing.txt")"
timeout 20 "$weirctl" events --json > "$tmp/events.json"
[ "$(grep -Ec '^\{"seq":"[1-5]","at_ms":"[0-9]+","kind":"CLUSTER_EVENT_(JOB_SUBMITTED|JOB_CANCELLED|TOPIC_FOUND|DISCOVERY_FAILED)".*\}$' "$tmp/events.json")" -eq 5 ] ||
  fail "events --json: $(cat "$tmp/events.json")"
# --follow prints what is there, then what happens next, until interrupted.
"$weirctl" events --follow > "$tmp/follow.txt" 2>&1 &
follow_pid=$!
track $follow_pid
write_job "$tmp/later.yaml" later events
timeout 20 "$weirctl" submit "$tmp/later.yaml" > /dev/null
timeout 20 "$weirctl" cancel later > /dev/null
for _ in $(seq 100); do
  grep -q "job later cancelled" "$tmp/follow.txt" && break
  kill -0 $follow_pid 2>/dev/null || fail "events --follow exited: $(cat "$tmp/follow.txt")"
  sleep 0.1
done
grep -q "job later cancelled" "$tmp/follow.txt" || fail "events --follow missed new events: $(cat "$tmp/follow.txt")"
[ "$(grep -c 'job-submitted' "$tmp/follow.txt")" -eq 3 ] || fail "events --follow repeated or lost events: $(cat "$tmp/follow.txt")"
kill -TERM $follow_pid  # (a background job of a script ignores SIGINT)
wait $follow_pid 2>/dev/null || true

# 5c. weirctl features pointed at the coordinator (no feature store there):
# exit 1, the gRPC code named and what to set, never "failed: " with no reason.
expect_exit 1 "$tmp/wrong.txt" timeout 20 "$weirctl" --store "$coord" features get --view user_clicks --key u1
grep -q "failed: UNIMPLEMENTED (is this the right service at that address?); set --store or WEIR_STORE" \
  "$tmp/wrong.txt" || fail "features at the coordinator: $(cat "$tmp/wrong.txt")"

# 6. A taken port: exit 1 with a message.
expect_exit 1 "$tmp/taken.txt" timeout 20 "$coordinator" --listen "$coord" --metrics-listen 127.0.0.1:0 \
  --data-dir "$tmp/other"
grep -q "cannot listen on $coord" "$tmp/taken.txt" || fail "port taken message: $(cat "$tmp/taken.txt")"

# 7. kill -9, then a restart on the same directory: the jobs are all there.
kill -9 $pid
wait $pid 2>/dev/null || true
start_coordinator
export WEIR_COORDINATOR=$coord
timeout 20 "$weirctl" list > "$tmp/list.txt"
grep -Eq "^clicks +running +4 " "$tmp/list.txt" || fail "after restart: $(cat "$tmp/list.txt")"
grep -Eq "^missing +cancelled " "$tmp/list.txt" || fail "after restart: $(cat "$tmp/list.txt")"
[ "$(timeout 20 "$weirctl" status clicks | grep -Ec '^[0-3] +- +0 ')" -eq 4 ] || fail "status after restart"
[ "$(timeout 20 "$weirctl" events)" = "no events" ] || fail "the event log is in memory, empty after a restart"
stop_gracefully $pid weir-coordinator

# 8. A corrupt state file: exit 1, naming it; nothing is overwritten.
cp "$tmp/data/state.pb" "$tmp/state.good"
printf 'not a protobuf' > "$tmp/data/state.pb"
expect_exit 1 "$tmp/corrupt.txt" timeout 20 "$coordinator" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 \
  --data-dir "$tmp/data"
grep -q "state.pb\" is corrupt" "$tmp/corrupt.txt" || fail "corrupt state message: $(cat "$tmp/corrupt.txt")"
[ "$(cat "$tmp/data/state.pb")" = "not a protobuf" ] || fail "the corrupt file was overwritten"

# 9. No coordinator there: exit 1 and a hint.
expect_exit 1 "$tmp/unreachable.txt" timeout 20 "$weirctl" --coordinator 127.0.0.1:1 list
grep -q "set --coordinator or WEIR_COORDINATOR" "$tmp/unreachable.txt" ||
  fail "unreachable message: $(cat "$tmp/unreachable.txt")"

stop_gracefully $kafka_pid weir-devkafka
echo "weir-coordinator: all checks passed"
