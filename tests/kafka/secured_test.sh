#!/usr/bin/env bash
# Weir on a secured Apache Kafka: one broker with a SASL_SSL listener
# (scripts/kafka.sh --sasl-ssl: a generated CA, user `weir`). Jobs reach it
# only through source.kafka.properties, the password as a ${file:...}
# reference:
#  - "secure", with the right password, produces its rows: the store equals
#    `weirctl replay` of the topic;
#  - "locked", whose password file is wrong, shows the failure (authentication
#    named) in `weirctl status`, and recovers by itself once the file is
#    corrected: its rows then land too.
# Neither the coordinator's logs, nor `weirctl status --json`, nor the
# workers' logs contain the password.
#   secured_test.sh WEIRCTL FEATURESTORE COORDINATOR WORKER
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
produce_users events 0 300

printf '%s\n' "$password" > "$tmp/secure.password"
echo "not-the-password" > "$tmp/locked.password"
for job in secure locked; do secured_job $job "$tmp/$job.password" > "$tmp/$job.yaml"; done

# The reference: the topic as Kafka holds it, replayed (the plaintext listener).
replay_reference "$tmp/secure.yaml" events 2

"$weirctl" submit "$tmp/secure.yaml" > "$tmp/submit-secure.out" 2>&1 || fail "submit secure: $(cat "$tmp/submit-secure.out")"
grep -Eq "^found topic \"events\" at .*: 2 partitions, replication factor 1; dead-letter topic \"secure.dlq\" (created|found)" \
  "$tmp/submit-secure.out" || fail "submit does not say what discovery found: $(cat "$tmp/submit-secure.out")"
wait_rows secure 60 secure
echo "secure: $(wc -l < "$tmp/expected.sorted") rows over SASL_SSL, equal to replay"

"$weirctl" submit "$tmp/locked.yaml" > "$tmp/submit-locked.out" 2>&1 || fail "submit locked: $(cat "$tmp/submit-locked.out")"
wait_status locked authentication 30
echo "locked: the failure shows in weirctl status: $(grep -i -m1 -o '[^:]*authentication[^;(]*' "$tmp/locked.status")"
"$weirctl" events --job locked > "$tmp/locked.events" 2>&1 || fail "weirctl events failed: $(cat "$tmp/locked.events")"
grep -Eqi "discovery-failed .*authentication" "$tmp/locked.events" ||
  fail "weirctl events has no discovery-failed event naming the authentication failure: $(cat "$tmp/locked.events")"

printf '%s\n' "$password" > "$tmp/locked.password"
wait_rows locked 90 secure
echo "locked: recovered once its password file was corrected"

"$weirctl" status secure --json > "$tmp/status.json" 2>&1 || true
for f in "$tmp/coordinator.log" "$tmp/w1.log" "$tmp/status.json" "$tmp/locked.status" "$tmp/locked.events"; do
  if grep -qF "$password" "$f"; then fail "$(basename "$f") contains the password"; fi
done
echo "no log or status shows the password"

stop_gracefully $worker_pid weir-worker
stop_gracefully $coordinator_pid weir-coordinator
"$kafka" stop --dir "$tmp/kafka" || fail "kafka.sh stop failed"
echo "kafka secured: all checks passed"
