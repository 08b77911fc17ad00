#!/usr/bin/env bash
# weir-featurestore as a user runs it, on a loopback port it picks itself:
# an offline backfill (weirctl replay, then features import) is exported back
# row for row; imports are idempotent; online reads return the latest window;
# a stale epoch is fenced; SIGTERM stops it and the rows survive a restart.
#   featurestore_test.sh WEIRCTL WEIR_FEATURESTORE EXAMPLES_DIR
set -euo pipefail
weirctl=$1
featurestore=$2
examples=$3
source "$(dirname "$0")/../lib.sh"

# Starts the store on free ports; sets $pid, $store and $metrics.
start_store() {
  "$featurestore" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --data-dir "$tmp/data" --log-level warn \
    > "$tmp/store.out" 2> "$tmp/store.log" &
  pid=$!
  track $pid
  store=$(wait_for_line "$tmp/store.out" "weir-featurestore listening on " $pid)
  metrics=$(wait_for_line "$tmp/store.out" "weir-featurestore metrics on " $pid)
}

start_store
export WEIR_STORE=$store

# 1. Offline backfill: replay, import, export; the same rows come back.
"$weirctl" replay --job "$examples/user_txn.yaml" --input "$examples/user_txn.events.jsonl" --flush -q > "$tmp/rows.jsonl"
"$weirctl" features import --input "$tmp/rows.jsonl" 2> "$tmp/import.txt"
grep -q "features import: $(wc -l < "$tmp/rows.jsonl") rows" "$tmp/import.txt" || fail "import: $(cat "$tmp/import.txt")"
"$weirctl" features export --view user_txn --output "$tmp/export.jsonl" 2>/dev/null
diff <(sort "$tmp/rows.jsonl") <(sort "$tmp/export.jsonl") > /dev/null || fail "export differs from the imported rows"

# 2. Importing again changes nothing.
"$weirctl" features import --input "$tmp/rows.jsonl" 2>/dev/null
"$weirctl" features export --view user_txn 2>/dev/null | sort > "$tmp/export2.jsonl"
diff <(sort "$tmp/rows.jsonl") "$tmp/export2.jsonl" > /dev/null || fail "a second import changed the store"

# The HTTP side: health, readiness, and counters that saw both imports.
http_get "$metrics" /healthz | grep -q "^HTTP/1.0 200" || fail "/healthz is not 200"
http_get "$metrics" /readyz | grep -q "^ready" || fail "/readyz is not ready"
http_get "$metrics" /nope | grep -q "^HTTP/1.0 404" || fail "/nope is not 404"
http_get "$metrics" /metrics > "$tmp/metrics.txt"
grep -q "^weir_store_rows_written_total $(( 2 * $(wc -l < "$tmp/rows.jsonl") ))$" "$tmp/metrics.txt" ||
  fail "rows written counter: $(grep weir_store_rows_written_total "$tmp/metrics.txt")"
grep -q "^weir_store_write_seconds_count " "$tmp/metrics.txt" || fail "no write latency histogram"

# 3. Online read: the latest window (then revision) of a feature.
want=$(grep '"key":"u1","feature":"amount_sum_10m"' "$tmp/rows.jsonl" |
  awk -F'"window_end":' '{split($2, a, ","); split($0, b, "\"revision\":"); print a[1] " " b[2]+0 " " $0}' |
  sort -k1,1n -k2,2n | tail -1 | cut -d' ' -f3-)
got=$("$weirctl" features get --view user_txn --key u1 --feature amount_sum_10m --as-of 9000000000000)
[ "$got" = "$want" ] || fail "features get: got '$got', want '$want'"
# Before any window closed: nothing.
[ -z "$("$weirctl" features get --view user_txn --key u1 --as-of 1)" ] || fail "as_of before every window returned rows"

# 4. A writer with a lower epoch is fenced (exit 2, says why).
code=0
"$weirctl" features import --input "$tmp/rows.jsonl" --epoch 0 2> "$tmp/err.txt" || code=$?
[ $code -eq 2 ] || fail "stale epoch: exit $code, want 2"
grep -q "import fenced" "$tmp/err.txt" || fail "stale epoch message: $(cat "$tmp/err.txt")"
http_get "$metrics" /metrics | grep -q "^weir_store_fenced_writes_total 1$" || fail "fenced write not counted"

# 4b. An unknown view or feature is an error that names it (exit 2), not an
# empty answer; an import row with an empty view is refused before sending.
expect_exit 2 "$tmp/err.txt" "$weirctl" features get --view nope --key u1
grep -q 'view "nope" is not in this feature store' "$tmp/err.txt" || fail "unknown view: $(cat "$tmp/err.txt")"
expect_exit 2 "$tmp/err.txt" "$weirctl" features get --view user_txn --key u1 --feature nope
grep -q 'view "user_txn" has no feature "nope" (its features: ' "$tmp/err.txt" ||
  fail "unknown feature: $(cat "$tmp/err.txt")"
expect_exit 2 "$tmp/err.txt" "$weirctl" features export --view nope
grep -q 'view "nope" is not in this feature store' "$tmp/err.txt" || fail "export unknown view: $(cat "$tmp/err.txt")"
head -1 "$tmp/rows.jsonl" | sed 's/"view":"user_txn"/"view":""/' > "$tmp/empty_view.jsonl"
expect_exit 2 "$tmp/err.txt" "$weirctl" features import --input "$tmp/empty_view.jsonl"
grep -q '"view" must not be empty' "$tmp/err.txt" || fail "empty view import: $(cat "$tmp/err.txt")"
# Pointed at the wrong service (the store as the coordinator): a reason, never "failed: " and nothing.
expect_exit 1 "$tmp/err.txt" "$weirctl" --coordinator "$store" list
grep -q "is this the right service at that address" "$tmp/err.txt" || fail "wrong service: $(cat "$tmp/err.txt")"
grep -Eq 'failed: *$' "$tmp/err.txt" && fail "wrong service, empty reason: $(cat "$tmp/err.txt")"

# 5. SIGTERM stops it cleanly; a restart on the same directory has every row.
stop_gracefully $pid weir-featurestore
start_store
"$weirctl" --store "$store" features export --view user_txn 2>/dev/null | sort > "$tmp/export3.jsonl"
diff <(sort "$tmp/rows.jsonl") "$tmp/export3.jsonl" > /dev/null || fail "rows lost across a restart"
stop_gracefully $pid weir-featurestore

# 6. No store there: exit 1 and a hint.
code=0
"$weirctl" --store 127.0.0.1:1 features get --view user_txn --key u1 2> "$tmp/err.txt" || code=$?
[ $code -eq 1 ] || fail "unreachable store: exit $code, want 1"
grep -q "is weir-featurestore running there" "$tmp/err.txt" || fail "unreachable message: $(cat "$tmp/err.txt")"

echo "weir-featurestore: all checks passed"
