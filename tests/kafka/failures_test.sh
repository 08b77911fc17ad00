#!/usr/bin/env bash
# Failures a user can see, on a real secured Kafka (one broker, SASL_SSL):
# each shows as the partitions' `failed` state with the reason in
# `weirctl status` and a partition-failed event in `weirctl events`, is
# retried with backoff, and recovers once fixed; the store then equals
# `weirctl replay` of the whole topic (nothing lost, nothing doubled).
#  1. a wrong password after the partitions were found: the job's worker
#     restarts with a wrong secret file (its new client is refused);
#     corrected, a new client reads it again;
#  2. an expired broker certificate: the broker restarts with one, then with
#     a renewed one;
#  3. a missing topic and unreachable brokers: the job waits, partitions
#     pending, with a discovery-failed event; the topic created, it runs.
#   failures_test.sh WEIRCTL FEATURESTORE COORDINATOR WORKER
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

secured_cluster
produce_users events 0 200

printf '%s\n' "$password" > "$tmp/guarded.password"
secured_job guarded "$tmp/guarded.password" > "$tmp/guarded.yaml"
"$weirctl" submit "$tmp/guarded.yaml" > "$tmp/submit.out" 2>&1 || fail "submit: $(cat "$tmp/submit.out")"
replay_reference "$tmp/guarded.yaml" events 2
wait_rows guarded 60 guarded
echo "guarded: $(wc -l < "$tmp/expected.sorted") rows over SASL_SSL"

# failed_event PATTERN: `weirctl events --job guarded` has a partition-failed
# event matching PATTERN (grep -Ei).
failed_event() {
  "$weirctl" events --job guarded > "$tmp/events.out" 2>&1 || fail "weirctl events failed: $(cat "$tmp/events.out")"
  grep -Eqi "partition-failed +guarded/[01] .*$1" "$tmp/events.out" ||
    fail "no partition-failed event matching /$1/: $(cat "$tmp/events.out")"
}

# 1. Wrong credentials after discovery: w1 leaves, w2 starts with a wrong secret.
stop_gracefully $worker_pid weir-worker
echo "not-the-password" > "$tmp/guarded.password"
start_worker "$worker" w2
produce_users events 200 300
wait_status guarded "failed.*authentication" 60
failed_event authentication
echo "wrong password: failed in status and events: $(grep -Eio -m1 'SASL authentication error[^(;]*' "$tmp/guarded.status")"
printf '%s\n' "$password" > "$tmp/guarded.password"
replay_reference "$tmp/guarded.yaml" events 2
wait_rows guarded 90 guarded
echo "wrong password: recovered once the secret file was corrected, rows equal replay"

# 2. An expired broker certificate.
restart_broker expired
wait_status guarded "failed.*certificate has expired" 90
produce_users events 300 400  # the plaintext listener
failed_event "certificate has expired"
echo "expired certificate: failed in status and events"
restart_broker valid
replay_reference "$tmp/guarded.yaml" events 2
wait_rows guarded 120 guarded
echo "expired certificate: recovered once the certificate was renewed, rows equal replay"

# 3. A missing topic, then unreachable brokers: the job waits, and says why.
secured_job later "$tmp/guarded.password" later-events > "$tmp/later.yaml"
"$weirctl" submit "$tmp/later.yaml" > "$tmp/submit-later.out" 2>&1 || fail "submit later: $(cat "$tmp/submit-later.out")"
grep -q 'partitions pending: topic "later-events" does not exist' "$tmp/submit-later.out" ||
  fail "submit does not say the topic is missing: $(cat "$tmp/submit-later.out")"
"$weirctl" events --job later > "$tmp/later.events" 2>&1 || true
grep -q 'discovery-failed .*topic "later-events" does not exist' "$tmp/later.events" ||
  fail "no discovery-failed event for the missing topic: $(cat "$tmp/later.events")"
"$kafka" topic later-events 1 1 2>> "$tmp/topic.log" || fail "creating later-events failed"
produce_users later-events 0 300
replay_reference "$tmp/later.yaml" later-events 1
wait_rows later 60 later
echo "missing topic: the job started once the topic existed"
sed -e 's|brokers: ".*"|brokers: "127.0.0.1:1"|' -e 's/^name: later/name: nowhere/' "$tmp/later.yaml" > "$tmp/nowhere.yaml"
"$weirctl" submit "$tmp/nowhere.yaml" > "$tmp/submit-nowhere.out" 2>&1 || fail "submit nowhere: $(cat "$tmp/submit-nowhere.out")"
grep -q "partitions pending: cannot read the partitions of" "$tmp/submit-nowhere.out" ||
  fail "submit does not say the brokers are unreachable: $(cat "$tmp/submit-nowhere.out")"
echo "unreachable brokers: $(cat "$tmp/submit-nowhere.out")"

for f in "$tmp/coordinator.log" "$tmp/w1.log" "$tmp/w2.log" "$tmp/events.out" "$tmp/guarded.status"; do
  if grep -qF "$password" "$f"; then fail "$(basename "$f") contains the password"; fi
done
stop_gracefully $worker_pid weir-worker
stop_gracefully $coordinator_pid weir-coordinator
"$kafka" stop --dir "$tmp/kafka" || fail "kafka.sh stop failed"
echo "kafka failures: all checks passed"
