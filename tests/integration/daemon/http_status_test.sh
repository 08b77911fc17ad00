#!/usr/bin/env bash
# A daemon's HTTP status endpoint (here weir-featurestore's) under abuse: a
# burst of connections that takes every file descriptor it has does not stop
# it for good (/healthz answers again once the burst ends), and a request
# header over the limit is answered 431.
#   http_status_test.sh WEIR_FEATURESTORE
set -euo pipefail
featurestore=$1
source "$(dirname "$0")/../lib.sh"

# Few file descriptors (it uses about 20 itself), so a burst exhausts them
# before the connection bound (64) is reached.
fd_limit=48
(
  ulimit -n $fd_limit
  exec "$featurestore" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --data-dir "$tmp/data" --log-level warn
) > "$tmp/store.out" 2> "$tmp/store.log" &
pid=$!
track $pid
metrics=$(wait_for_line "$tmp/store.out" "weir-featurestore metrics on " $pid)
http_get "$metrics" /healthz | grep -q "^HTTP/1.0 200" || fail "/healthz is not 200 before the burst"

# 1. The burst: 400 connections held open until the daemon has used every file
# descriptor it may (bounded: 20 s), then all closed at once.
python3 - "${metrics%:*}" "${metrics##*:}" $pid $fd_limit <<'PY' || fail "the connection burst did not exhaust the daemon's file descriptors"
import os, socket, sys, time
host, port, pid, limit = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
socks = []
for _ in range(400):
    s = socket.socket()
    s.settimeout(5)
    s.connect((host, port))
    socks.append(s)
deadline = time.monotonic() + 20
while time.monotonic() < deadline:
    if len(os.listdir(f"/proc/{pid}/fd")) >= limit:
        break
    time.sleep(0.05)
else:
    sys.exit(1)
for s in socks:
    s.close()
PY
kill -0 $pid 2>/dev/null || fail "weir-featurestore died in the connection burst"

# 2. After the burst, /healthz answers again (the accept retries with a
# backoff of at most 1 s; 15 s is ample).
python3 - "${metrics%:*}" "${metrics##*:}" <<'PY' || fail "/healthz does not answer within 15 s of the connection burst"
import socket, sys, time
deadline = time.monotonic() + 15
while time.monotonic() < deadline:
    try:
        with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1) as s:
            s.sendall(b"GET /healthz HTTP/1.0\r\nHost: test\r\n\r\n")
            if s.makefile("rb").readline().startswith(b"HTTP/1.0 200"):
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.1)
sys.exit(1)
PY
grep -q "accept failed: .*retrying" "$tmp/store.log" || fail "the failed accepts were not logged"
http_get "$metrics" /metrics | grep -q "^weir_store_writable " || fail "/metrics does not answer after the burst"

# 3. A header over the limit (8 KiB) gets 431, and the server goes on.
status=$(python3 - "${metrics%:*}" "${metrics##*:}" <<'PY'
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
try:
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\nX-Big: " + b"a" * 16384 + b"\r\n\r\n")
except OSError:
    pass  # the server may answer and stop reading before the whole header is sent
print(s.makefile("rb").readline().decode().strip())
PY
)
echo "$status" | grep -q "^HTTP/1.1 431" || fail "oversize header: got '$status', want 431"
http_get "$metrics" /healthz | grep -q "^HTTP/1.0 200" || fail "/healthz is not 200 after the oversize header"

stop_gracefully $pid weir-featurestore
echo "HTTP status server: all checks passed"
