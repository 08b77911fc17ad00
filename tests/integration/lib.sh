# Helpers shared by the integration test scripts; source it first. It makes
# $tmp (removed at exit, with every process started through `track` killed).

tmp=$(mktemp -d)
tracked_pids=()
cleanup() {
  for p in "${tracked_pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# fail MESSAGE: prints the message and every $tmp/*.log, then exits 1.
fail() {
  echo "FAIL: $*" >&2
  for f in "$tmp"/*.log; do
    [ -f "$f" ] && { echo "== $f" >&2; cat "$f" >&2; }
  done
  exit 1
}

# track PID: kill it at exit if it still runs.
track() { tracked_pids+=("$1"); }

# wait_for_line FILE PREFIX PID: prints what follows PREFIX on the first line
# of FILE that starts with it, waiting up to 10 s while PID lives.
wait_for_line() {
  local file=$1 prefix=$2 pid=$3 value=""
  for _ in $(seq 100); do
    value=$(sed -n "s/^$prefix//p" "$file" | head -1)
    [ -n "$value" ] && { echo "$value"; return 0; }
    kill -0 "$pid" 2>/dev/null || fail "process $pid exited before printing '$prefix'"
    sleep 0.1
  done
  fail "no '$prefix' line in $file within 10s"
}

# stop_gracefully PID NAME: SIGTERM, then requires exit code 0 within 10 s.
stop_gracefully() {
  local pid=$1 name=$2
  kill -TERM "$pid"
  for _ in $(seq 100); do
    if ! kill -0 "$pid" 2>/dev/null; then
      wait "$pid" || fail "$name exited with $? on SIGTERM"
      return 0
    fi
    sleep 0.1
  done
  fail "$name did not stop within 10s of SIGTERM"
}

# http_get HOST:PORT PATH: the whole HTTP/1.0 response (bash's /dev/tcp; no curl needed).
http_get() {
  exec 3<>"/dev/tcp/${1%:*}/${1##*:}"
  printf 'GET %s HTTP/1.0\r\nHost: test\r\n\r\n' "$2" >&3
  timeout 10 cat <&3
  exec 3<&-
}

# http_body HOST:PORT PATH: the response's body only.
http_body() { http_get "$1" "$2" | sed '1,/^\r$/d'; }

# expect_exit CODE OUTFILE COMMAND...: runs it (output to OUTFILE), requires that exit code.
expect_exit() {
  local want=$1 out=$2 code=0
  shift 2
  "$@" > "$out" 2>&1 || code=$?
  [ $code -eq "$want" ] || fail "$* exited $code, want $want: $(cat "$out")"
}

# start_devkafka DEVKAFKA [ARGS...]: weir-devkafka on a free port (ARGS such
# as --brokers 3 --topic events:4), output in $tmp/kafka.{out,log}; sets
# $kafka (its bootstrap address) and $kafka_pid.
start_devkafka() {
  local bin=$1
  shift
  "$bin" --port 0 "$@" > "$tmp/kafka.out" 2> "$tmp/kafka.log" &
  kafka_pid=$!
  track $kafka_pid
  kafka=$(wait_for_line "$tmp/kafka.out" "weir-devkafka bootstrap " $kafka_pid)
}

# start_store FEATURESTORE [ARGS...]: weir-featurestore on free ports, data in
# $tmp/store, output in $tmp/store.{out,log}; sets $store (its address) and
# $store_pid.
start_store() {
  local bin=$1
  shift
  "$bin" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --data-dir "$tmp/store" "$@" \
    > "$tmp/store.out" 2> "$tmp/store.log" &
  store_pid=$!
  track $store_pid
  store=$(wait_for_line "$tmp/store.out" "weir-featurestore listening on " $store_pid)
}

# start_coordinator COORDINATOR [ARGS...]: weir-coordinator on free ports, data
# in $tmp/coordinator; sets $coord (its address) and $coordinator_pid.
start_coordinator() {
  local bin=$1
  shift
  "$bin" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --data-dir "$tmp/coordinator" "$@" \
    > "$tmp/coordinator.out" 2> "$tmp/coordinator.log" &
  coordinator_pid=$!
  track $coordinator_pid
  coord=$(wait_for_line "$tmp/coordinator.out" "weir-coordinator listening on " $coordinator_pid)
}

# start_worker WORKER ID [ARGS...]: weir-worker ID of the coordinator at $coord,
# data in $tmp/ID, output in $tmp/ID.{out,log}; sets $worker_pid and
# $worker_metrics (its HTTP status address).
start_worker() {
  local bin=$1 id=$2
  shift 2
  "$bin" --id "$id" --coordinator "$coord" --metrics-listen 127.0.0.1:0 --data-dir "$tmp/$id" "$@" \
    > "$tmp/$id.out" 2> "$tmp/$id.log" &
  worker_pid=$!
  track $worker_pid
  worker_metrics=$(wait_for_line "$tmp/$id.out" "weir-worker $id metrics on " $worker_pid)
}
