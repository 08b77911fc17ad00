#!/usr/bin/env bash
# weir-devkafka as a user runs it: kcat (a client we did not write) produces
# keyed messages through the bootstrap port and reads every one back, keyed
# messages land in partitions by key, and SIGTERM stops it.
# weir-loadgen's keyed events arrive too, each key in one partition.
#   devkafka_test.sh WEIR_DEVKAFKA WEIR_LOADGEN
set -euo pipefail
devkafka=$1
loadgen=$2
source "$(dirname "$0")/../lib.sh"
command -v kcat >/dev/null || fail "kcat is not installed (scripts/setup.sh installs it)"

"$devkafka" --port 0 --brokers 3 --topic events:4 --topic other:1 > "$tmp/out" 2> "$tmp/devkafka.log" &
pid=$!
track $pid
bootstrap=$(wait_for_line "$tmp/out" "weir-devkafka bootstrap " $pid)

# Metadata through the fixed port: 3 brokers, the topics with their partitions.
timeout 30 kcat -b "$bootstrap" -L > "$tmp/meta" 2>&1 || fail "kcat -L: $(cat "$tmp/meta")"
grep -q "3 brokers" "$tmp/meta" || fail "expected 3 brokers: $(cat "$tmp/meta")"
grep -q 'topic "events" with 4 partitions' "$tmp/meta" || fail "no topic events with 4 partitions"

# 200 keyed messages in, 200 out; one key always in one partition.
for i in $(seq 200); do echo "u$((i % 10)):{\"user\":\"u$((i % 10))\",\"n\":$i}"; done > "$tmp/in"
timeout 30 kcat -b "$bootstrap" -P -t events -K: < "$tmp/in" || fail "kcat produce failed"
timeout 30 kcat -b "$bootstrap" -C -t events -o beginning -e -f '%p %k %s\n' > "$tmp/got" 2>/dev/null ||
  fail "kcat consume failed"
[ "$(wc -l < "$tmp/got")" -eq 200 ] || fail "consumed $(wc -l < "$tmp/got") messages, want 200"
[ "$(awk '{print $2, $1}' "$tmp/got" | sort -u | wc -l)" -eq 10 ] || fail "a key landed in more than one partition"

# weir-loadgen: 500 events over 20 keys, with disorder and late events.
timeout 60 "$loadgen" --brokers "$bootstrap" --topic other --count 500 --rate 0 --keys 20 --disorder 5s \
  --late-fraction 0.1 2> "$tmp/loadgen" || fail "weir-loadgen: $(cat "$tmp/loadgen")"
grep -q "500 events produced to other, 0 refused, 0 undelivered" "$tmp/loadgen" || fail "loadgen: $(cat "$tmp/loadgen")"
timeout 30 kcat -b "$bootstrap" -C -t other -o beginning -e -f '%k %s\n' > "$tmp/gen" 2>/dev/null || fail "consume other"
[ "$(wc -l < "$tmp/gen")" -eq 500 ] || fail "consumed $(wc -l < "$tmp/gen") loadgen events, want 500"
grep -q '^u7 {"user_id":"u7","ts":[0-9]*,"amount":[0-9.]*,"type":"[a-z]*","merchant":"m[0-9]*","seq":[0-9]*}$' "$tmp/gen" ||
  fail "unexpected loadgen record: $(head -1 "$tmp/gen")"

stop_gracefully $pid weir-devkafka
echo "weir-devkafka: all checks passed"
