#!/usr/bin/env bash
# weirctl replay as a user runs it: rows equal to a hand-computed case, dead
# letters with their reasons, --flush, and clear errors with exit code 2.
#   replay_cli_test.sh WEIRCTL CASE_DIR EXAMPLES_DIR
set -euo pipefail
weirctl=$1
dir=$2
examples=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# 1. Without --flush: only windows the watermark passed fire.
"$weirctl" replay --job "$dir/job.yaml" --input "$dir/events.jsonl" --output "$tmp/rows.jsonl" \
  --dead-letter "$tmp/dlq.jsonl" 2>"$tmp/summary.txt"
diff -u "$dir/expected_rows.jsonl" "$tmp/rows.jsonl" || fail "rows differ from the hand-computed case"
grep -q '"reason":"decode","partition":0,"offset":5' "$tmp/dlq.jsonl" || fail "no decode dead letter"
grep -q '"reason":"bad_type","partition":0,"offset":6' "$tmp/dlq.jsonl" || fail "no bad_type dead letter"
grep -q '"reason":"missing_field","partition":0,"offset":7' "$tmp/dlq.jsonl" || fail "no missing_field dead letter"
[ "$(wc -l < "$tmp/dlq.jsonl")" -eq 3 ] || fail "expected exactly 3 dead letters"
grep -q "10 records, 17 rows (4 corrections), 3 dead letters" "$tmp/summary.txt" || fail "summary: $(cat "$tmp/summary.txt")"

# 2. --flush fires what is still open, after the same rows.
"$weirctl" replay --job "$dir/job.yaml" --input - --flush -q < "$dir/events.jsonl" > "$tmp/flushed.jsonl"
head -n "$(wc -l < "$dir/expected_rows.jsonl")" "$tmp/flushed.jsonl" | diff -u "$dir/expected_rows.jsonl" - \
  || fail "flushed output does not start with the unflushed rows"
tail -n +"$(( $(wc -l < "$dir/expected_rows.jsonl") + 1 ))" "$tmp/flushed.jsonl" | diff -u "$dir/expected_flush_tail.jsonl" - \
  || fail "rows fired by --flush differ"

# 3. A too-late record becomes a late dead letter.
printf '%s\n' '{"user":"a","ts":100}' '{"user":"a","ts":200}' '{"user":"a","ts":10}' > "$tmp/late.jsonl"
"$weirctl" replay --job "$dir/job.yaml" --input "$tmp/late.jsonl" --dead-letter "$tmp/late_dlq.jsonl" -q >/dev/null
grep -q '"reason":"late","partition":0,"offset":2' "$tmp/late_dlq.jsonl" || fail "no late dead letter"

# 4. Errors: a bad spec names the path; a missing file names the file; all exit 2.
# expect_exit CODE PATTERN ARGS...: runs weirctl, checks its exit code and stderr.
expect_exit() {
  local want=$1 pattern=$2 code=0
  shift 2
  "$weirctl" "$@" >/dev/null 2>"$tmp/err.txt" || code=$?
  [ "$code" -eq "$want" ] || fail "weirctl $*: exit $code, want $want"
  grep -q -- "$pattern" "$tmp/err.txt" || fail "weirctl $*: stderr lacks '$pattern': $(cat "$tmp/err.txt")"
}
sed 's/slide: 1m/slide: 7m/' "$dir/job.yaml" > "$tmp/bad.yaml"
expect_exit 2 "features\[1\].window.sliding.slide: 7m is longer than size 2m" \
  replay --job "$tmp/bad.yaml" --input "$dir/events.jsonl"
expect_exit 2 "cannot open input \"$tmp/nope.jsonl\": No such file or directory" \
  replay --job "$dir/job.yaml" --input "$tmp/nope.jsonl"
expect_exit 2 "nope.yaml" replay --job "$tmp/nope.yaml" --input "$dir/events.jsonl"
expect_exit 2 "--job is required" replay --input "$dir/events.jsonl"
# An output that cannot be written is a runtime failure (exit 1) naming the file.
if [ -w /dev/full ]; then
  expect_exit 1 'cannot write output "/dev/full": No space left on device' \
    replay --job "$dir/job.yaml" --input "$dir/events.jsonl" --output /dev/full
fi

# 5. Every example job replays over its sample events.
for job in "$examples"/*.yaml; do
  events="${job%.yaml}.events.jsonl"
  [ -f "$events" ] || continue
  "$weirctl" replay --job "$job" --input "$events" --flush -q > "$tmp/example.jsonl"
  [ -s "$tmp/example.jsonl" ] || fail "example $job produced no rows"
done

echo "weirctl replay: all checks passed"
