#!/usr/bin/env bash
# weir-devkafka as a user runs it: kcat (a client we did not write) produces
# keyed messages through the bootstrap port and reads every one back, keyed
# messages land in partitions by key, and SIGTERM stops it.
# weir-loadgen's keyed events arrive too, each key in one partition.
# With --advertise (how Kubernetes pods reach it) every broker is relayed on a
# port of its own and clients only ever see the advertised addresses:
# metadata, a keyed round trip and a consumer group (FindCoordinator) all go
# through them.
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

# --- --advertise: 3 brokers at localhost:BASE..BASE+2 ------------------------

# free_port_run N: prints a port B with B..B+N-1 free on 127.0.0.1 (below
# Linux's ephemeral range, where the mock brokers pick theirs).
free_port_run() {
  python3 - "$1" <<'EOF'
import random, socket, sys
n = int(sys.argv[1])
for _ in range(50):
    base = random.randint(20000, 32000 - n)
    socks = []
    try:
        for p in range(base, base + n):
            s = socket.socket()
            s.bind(("127.0.0.1", p))
            socks.append(s)
    except OSError:
        continue
    finally:
        for s in socks:
            s.close()
    print(base)
    sys.exit(0)
sys.exit(1)
EOF
}

# port_open PORT: whether something accepts connections on 127.0.0.1:PORT.
port_open() { (exec 3<> "/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Another process may take the ports between the probe and the bind: retry.
started=""
for _ in 1 2 3 4 5; do
  base=$(free_port_run 3) || fail "no 3 consecutive free ports"
  "$devkafka" --brokers 3 --advertise localhost --listen-host 127.0.0.1 --port "$base" --topic events:4 \
    > "$tmp/adv.out" 2> "$tmp/adv.log" &
  pid=$!
  track $pid
  for _ in $(seq 100); do
    grep -q "^weir-devkafka mock brokers " "$tmp/adv.out" && { started=1; break; }
    kill -0 $pid 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$started" ] && break
  kill -9 $pid 2>/dev/null || true
done
[ -n "$started" ] || fail "weir-devkafka --advertise did not start"
grep -qx "weir-devkafka bootstrap localhost:$base" "$tmp/adv.out" || fail "bootstrap line: $(cat "$tmp/adv.out")"
grep -qx "weir-devkafka brokers localhost:$base,localhost:$((base + 1)),localhost:$((base + 2))" "$tmp/adv.out" ||
  fail "brokers line: $(cat "$tmp/adv.out")"

# The mock brokers listen on other ports, and list themselves by id in
# bootstrap order (the relay on BASE+i-1 forwards to the i-th of them).
IFS=, read -r -a mock <<< "$(sed -n 's/^weir-devkafka mock brokers //p' "$tmp/adv.out")"
[ "${#mock[@]}" -eq 3 ] || fail "expected 3 mock brokers: ${mock[*]}"
timeout 30 kcat -b "${mock[0]}" -L > "$tmp/mockmeta" 2>&1 || fail "kcat -L on the mock: $(cat "$tmp/mockmeta")"
for i in 1 2 3; do
  for p in $base $((base + 1)) $((base + 2)); do
    [ "${mock[i - 1]}" != "127.0.0.1:$p" ] || fail "mock broker $i is on advertised port $p"
  done
  grep -q "broker $i at ${mock[i - 1]}\b" "$tmp/mockmeta" || fail "broker $i is not ${mock[i - 1]}: $(cat "$tmp/mockmeta")"
  port_open $((base + i - 1)) || fail "nothing listens on advertised port $((base + i - 1))"
done

# Metadata through the bootstrap port names only localhost:BASE+i-1.
timeout 30 kcat -b "localhost:$base" -L > "$tmp/advmeta" 2>&1 || fail "kcat -L: $(cat "$tmp/advmeta")"
grep -q " 3 brokers:" "$tmp/advmeta" || fail "expected 3 brokers: $(cat "$tmp/advmeta")"
for i in 1 2 3; do
  grep -q "broker $i at localhost:$((base + i - 1))\b" "$tmp/advmeta" ||
    fail "broker $i is not advertised at localhost:$((base + i - 1)): $(cat "$tmp/advmeta")"
done
if grep -q "127\.0\.0\.1" "$tmp/advmeta"; then fail "a mock broker address leaked: $(cat "$tmp/advmeta")"; fi

# Keyed round trip through the advertised addresses (the partitions' leaders
# are spread over the three brokers).
timeout 30 kcat -b "localhost:$base" -P -t events -K: < "$tmp/in" || fail "kcat produce (advertised) failed"
timeout 30 kcat -b "localhost:$base" -C -t events -o beginning -e -f '%p %k %s\n' > "$tmp/advgot" 2>/dev/null ||
  fail "kcat consume (advertised) failed"
[ "$(wc -l < "$tmp/advgot")" -eq 200 ] || fail "consumed $(wc -l < "$tmp/advgot") messages (advertised), want 200"
[ "$(awk '{print $2, $1}' "$tmp/advgot" | sort -u | wc -l)" -eq 10 ] || fail "a key landed in more than one partition"

# A consumer group finds its coordinator (FindCoordinator) and reads them all.
timeout 40 kcat -b "localhost:$base" -G devkafka-test -X auto.offset.reset=earliest -c 200 -f '%k %s\n' events \
  > "$tmp/group" 2> "$tmp/group.err" || fail "kcat -G: $(tail -5 "$tmp/group.err")"
[ "$(wc -l < "$tmp/group")" -eq 200 ] || fail "the group consumed $(wc -l < "$tmp/group") messages, want 200"
sort "$tmp/group" | cmp -s - <(awk '{print $2, $3}' "$tmp/advgot" | sort) || fail "the group read other messages"

grep -q "rewriting broker addresses in Metadata v" "$tmp/adv.log" || fail "no Metadata response was rewritten"
grep -q "rewriting broker addresses in FindCoordinator v" "$tmp/adv.log" || fail "no FindCoordinator response rewritten"
if grep -q "does not parse\|not Kafka frames\|cannot rewrite" "$tmp/adv.log"; then fail "a response was not rewritten"; fi
sed -n 's/^weir-devkafka: rewriting broker addresses in /weir-devkafka --advertise rewrote /p' "$tmp/adv.log"

stop_gracefully $pid "weir-devkafka --advertise"
for p in $base $((base + 1)) $((base + 2)); do
  if port_open $p; then fail "port $p is still served after weir-devkafka stopped"; fi
done
echo "weir-devkafka: all checks passed"
