#!/usr/bin/env bash
# The cluster as a user runs it, every part a real process on loopback:
# weir-devkafka (3 brokers, topic events:4), weir-featurestore,
# weir-coordinator and two weir-workers. kcat, a client we did not write,
# produces keyed, out-of-order events (with late and malformed ones);
# `weirctl submit` starts the job.
#  - Interop: the store's export equals `weirctl replay` of each partition's
#    records (read back with kcat), row for row; and a small case computed by
#    hand (key "hand") is in it exactly.
#  - Bad records: every malformed and late record is in the dead-letter topic
#    with its reason, source partition and offset in headers.
#  - Status: 4 partitions spread 2 and 2 over the workers, lag 0 at the end;
#    the workers' /metrics carry per-partition series.
#  - Cancel: a cancelled job stops writing (a control job on the same topic
#    processes what came after, the cancelled one's rows stay as they were).
#   cluster_test.sh WEIRCTL DEVKAFKA FEATURESTORE COORDINATOR WORKER
set -euo pipefail
weirctl=$1
devkafka=$2
featurestore=$3
coordinator=$4
worker=$5
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib.sh"
command -v kcat >/dev/null || fail "kcat is not installed (scripts/setup.sh installs it)"

start_devkafka "$devkafka" --brokers 3 --topic events:4
bootstrap=$kafka

"$featurestore" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --data-dir "$tmp/store" \
  > "$tmp/store.out" 2> "$tmp/store.log" &
track $!
store=$(wait_for_line "$tmp/store.out" "weir-featurestore listening on " $!)

"$coordinator" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --data-dir "$tmp/coordinator" \
  > "$tmp/coordinator.out" 2> "$tmp/coordinator.log" &
coordinator_pid=$!
track $coordinator_pid
coord=$(wait_for_line "$tmp/coordinator.out" "weir-coordinator listening on " $coordinator_pid)
export WEIR_COORDINATOR=$coord WEIR_STORE=$store

declare -A worker_metrics worker_pid
for w in w1 w2; do
  "$worker" --id $w --coordinator "$coord" --metrics-listen 127.0.0.1:0 --data-dir "$tmp/$w" \
    > "$tmp/$w.out" 2> "$tmp/$w.log" &
  worker_pid[$w]=$!
  track $!
  worker_metrics[$w]=$(wait_for_line "$tmp/$w.out" "weir-worker $w metrics on " $!)
done

# ---- The records: keyed, out of order, some late, some malformed ----
t0=1699999980000  # a minute boundary
{
  # The hand case first, so nothing else has moved its partition's watermark:
  # minute 0: amounts 5, 7, 1 (out of order) -> n 3, sum 13; minute 1: 10.
  echo "hand:{\"user_id\":\"hand\",\"ts\":$((t0 + 1000)),\"amount\":5,\"type\":\"click\"}"
  echo "hand:{\"user_id\":\"hand\",\"ts\":$((t0 + 3000)),\"amount\":7,\"type\":\"view\"}"
  echo "hand:{\"user_id\":\"hand\",\"ts\":$((t0 + 2000)),\"amount\":1,\"type\":\"click\"}"
  echo "hand:{\"user_id\":\"hand\",\"ts\":$((t0 + 61000)),\"amount\":10,\"type\":\"buy\"}"
  # 600 events over 20 keys and 10 minutes, disorder up to ±5 s, every 40th
  # 25 s behind (a correction or, once its window is gone, a late record).
  for i in $(seq 0 599); do
    key="u$(((i * 7) % 20))"
    ts=$((t0 + i * 1000 + ((i * 37) % 11 - 5) * 1000))
    [ $((i % 40)) -eq 39 ] && ts=$((ts - 25000))
    types=(click view buy)
    echo "$key:{\"user_id\":\"$key\",\"ts\":$ts,\"amount\":$(((i * 13) % 50)).5,\"type\":\"${types[$((i % 3))]}\"}"
  done
  # Malformed records, and one late record of the hand case (its minute-1
  # window is gone long before: W is near t0 + 10 min).
  echo "bad:this is not json"
  echo "bad:{\"ts\":$((t0 + 1000))}"
  echo "bad:{\"user_id\":\"bad\",\"ts\":\"yesterday\"}"
  echo "hand:{\"user_id\":\"hand\",\"ts\":$((t0 + 62000)),\"amount\":1,\"type\":\"late\"}"
} > "$tmp/records"
timeout 60 kcat -b "$bootstrap" -P -t events -K: < "$tmp/records" || fail "kcat produce failed"

# ---- Submit ----
sed -e "s|@BOOTSTRAP@|$bootstrap|" -e "s|@STORE@|$store|" "$here/job.yaml.in" > "$tmp/job.yaml"
"$weirctl" submit "$tmp/job.yaml" > "$tmp/submit.out" 2>&1 || fail "submit: $(cat "$tmp/submit.out")"
grep -q "interop" "$tmp/submit.out" || fail "submit said: $(cat "$tmp/submit.out")"

# ---- The reference: weirctl replay of each partition's records ----
: > "$tmp/expected"
for p in 0 1 2 3; do
  timeout 30 kcat -b "$bootstrap" -C -t events -p $p -o beginning -e -f '%s\n' > "$tmp/p$p.jsonl" 2>/dev/null ||
    fail "kcat consume of partition $p failed"
  "$weirctl" replay --job "$tmp/job.yaml" --input "$tmp/p$p.jsonl" --partition $p -q >> "$tmp/expected" ||
    fail "replay of partition $p failed"
done
sort "$tmp/expected" > "$tmp/expected.sorted"
[ "$(wc -l < "$tmp/expected.sorted")" -gt 500 ] || fail "the reference has only $(wc -l < "$tmp/expected.sorted") rows"

# ---- Interop: wait (bounded) until the store holds exactly the reference ----
ok=0
for _ in $(seq 120); do
  "$weirctl" features export --view interop --output "$tmp/export" 2>/dev/null || true
  sort "$tmp/export" > "$tmp/export.sorted" 2>/dev/null || true
  if cmp -s "$tmp/export.sorted" "$tmp/expected.sorted"; then ok=1; break; fi
  sleep 0.5
done
[ $ok -eq 1 ] || {
  diff "$tmp/expected.sorted" "$tmp/export.sorted" | head -20 >&2
  fail "the store's export differs from weirctl replay per partition (above: < reference, > store)"
}
# available_at depends on the other keys of hand's partition: the equality with
# replay above checks it; the hand case checks the values.
grep '"key":"hand"' "$tmp/export.sorted" | grep -E '"feature":"(n_1m|amount_1m)"' |
  sed 's/,"available_at":[0-9-]*//' > "$tmp/hand"
diff "$here/expected_hand.jsonl" "$tmp/hand" >&2 || fail "the hand-computed case differs (above: < by hand, > store)"
echo "interop: $(wc -l < "$tmp/export.sorted") rows equal to replay per partition; hand case exact"

# ---- Online read of the hand case ----
"$weirctl" features get --view interop --key hand --feature n_1m > "$tmp/get" || fail "features get failed"
grep -q '"window_end":1700000100000,"value":1,' "$tmp/get" || fail "features get: $(cat "$tmp/get")"

# ---- Status and workers ----
"$weirctl" status interop > "$tmp/status" || fail "status failed"
for w in w1 w2; do
  [ "$(grep -cw "$w" "$tmp/status")" -eq 2 ] || fail "$w should own 2 partitions: $(cat "$tmp/status")"
done
"$weirctl" workers > "$tmp/workers" || fail "workers failed"
grep -q w1 "$tmp/workers" && grep -q w2 "$tmp/workers" || fail "workers: $(cat "$tmp/workers")"
ok=0
for _ in $(seq 40); do  # lag is reported with heartbeats
  "$weirctl" status interop --json > "$tmp/status.json" || fail "status --json failed"
  if [ "$(grep -o '"lag": *"\?0"\?[,}]' "$tmp/status.json" | wc -l)" -eq 4 ]; then ok=1; break; fi
  sleep 0.25
done
[ $ok -eq 1 ] || fail "lag did not reach 0 on all 4 partitions: $(cat "$tmp/status.json")"
metrics=""
for w in w1 w2; do metrics+=$(http_body "${worker_metrics[$w]}" /metrics); done
for series in weir_worker_records_in_total weir_worker_rows_out_total weir_worker_watermark_ms \
  weir_worker_consumer_lag; do
  [ "$(grep -c "^$series{job=\"interop\",partition=" <<< "$metrics")" -eq 4 ] ||
    fail "$series should have 4 partitions: $(grep "^$series" <<< "$metrics")"
done
grep -q '^weir_worker_dead_letters_total{job="interop",partition="[0-3]",reason="decode"} 1' <<< "$metrics" ||
  fail "no decode dead letter in the metrics"
[ "$(http_body "${worker_metrics[w1]}" /readyz)" = "ready" ] || fail "w1 is not ready"

# ---- Bad records: the dead-letter topic ----
ok=0
for _ in $(seq 40); do
  timeout 30 kcat -b "$bootstrap" -C -t interop.dlq -o beginning -e -f '%h|%k|%s\n' > "$tmp/dlq" 2>/dev/null || true
  if [ "$(grep -c . "$tmp/dlq")" -ge 4 ]; then ok=1; break; fi
  sleep 0.25
done
[ $ok -eq 1 ] || fail "the dead-letter topic has $(grep -c . "$tmp/dlq") records, want at least 4"
expect_dead() {  # reason, record text
  grep -F "reason=$1," "$tmp/dlq" | grep -F "$2" | grep -Eq "partition=[0-3],offset=[0-9]+" ||
    fail "no $1 dead letter with partition and offset for '$2' in: $(cat "$tmp/dlq")"
}
expect_dead decode "this is not json"
expect_dead missing_field "{\"ts\":$((t0 + 1000))}"
expect_dead bad_type '"yesterday"'
expect_dead late '"type":"late"'
echo "dead letters: $(grep -c . "$tmp/dlq") records with reasons and source coordinates"

# ---- Cancel: no more writes ----
# Cancelled, the job's partitions stop on the workers: observable as their
# per-partition series leaving /metrics. Then events are produced, a sentinel
# last; a control job on the same topic and store must process the sentinel
# (so the events were there to read, and time enough passed for a worker
# still running the cancelled job to write them) while the cancelled job's
# rows stay exactly as they were.
"$weirctl" cancel interop > "$tmp/cancel.out" 2>&1 || fail "cancel: $(cat "$tmp/cancel.out")"
ok=0
for _ in $(seq 80); do
  metrics=""
  for w in w1 w2; do metrics+=$(http_body "${worker_metrics[$w]}" /metrics); done
  if ! grep -q '^weir_worker_records_in_total{job="interop",' <<< "$metrics" &&
    [ "$(grep -c 'job interop partition [0-3]: stopped' "$tmp/w1.log" "$tmp/w2.log" | awk -F: '{n += $2} END {print n}')" -eq 4 ]; then
    ok=1
    break
  fi
  sleep 0.25
done
[ $ok -eq 1 ] || fail "the workers did not stop the cancelled job's 4 partitions: $(grep '{job="interop"' <<< "$metrics")"
"$weirctl" features export --view interop --output "$tmp/before" 2>/dev/null || fail "export after cancel failed"
{
  for i in $(seq 0 99); do
    echo "u$((i % 20)):{\"user_id\":\"u$((i % 20))\",\"ts\":$((t0 + 3600000 + i * 1000)),\"amount\":1}"
  done
  # The sentinel's minute fires when the second record moves its partition's
  # watermark two minutes on.
  echo "sentinel:{\"user_id\":\"sentinel\",\"ts\":$((t0 + 7200000)),\"amount\":1}"
  echo "sentinel:{\"user_id\":\"sentinel\",\"ts\":$((t0 + 7320000)),\"amount\":1}"
} | timeout 30 kcat -b "$bootstrap" -P -t events -K: || fail "kcat produce after cancel failed"
sed -e "s|@BOOTSTRAP@|$bootstrap|" -e "s|@STORE@|$store|" -e "s|^name: interop|name: control|" \
  -e "s|^view: interop|view: control|" "$here/job.yaml.in" > "$tmp/control.yaml"
"$weirctl" submit "$tmp/control.yaml" > "$tmp/submit-control.out" 2>&1 ||
  fail "submit control: $(cat "$tmp/submit-control.out")"
ok=0
for _ in $(seq 120); do
  "$weirctl" features get --view control --key sentinel --feature n_1m > "$tmp/sentinel" 2>/dev/null || true
  if grep -q '"key":"sentinel"' "$tmp/sentinel"; then ok=1; break; fi
  sleep 0.5
done
[ $ok -eq 1 ] || fail "the control job did not process the sentinel within 60 s"
"$weirctl" features export --view interop --output "$tmp/after" 2>/dev/null || fail "export after control failed"
cmp -s "$tmp/before" "$tmp/after" || {
  diff "$tmp/before" "$tmp/after" | head -10 >&2
  fail "the cancelled job's rows changed after it was cancelled (above: < at cancel, > after the control job)"
}
echo "cancel: the cancelled job wrote nothing while a control job processed the same events"
"$weirctl" status interop > "$tmp/status" 2>&1 || fail "status after cancel failed"
grep -qi cancel "$tmp/status" || fail "status does not say cancelled: $(cat "$tmp/status")"

for w in w1 w2; do stop_gracefully "${worker_pid[$w]}" "weir-worker $w"; done
stop_gracefully $coordinator_pid weir-coordinator
echo "cluster: all checks passed"
