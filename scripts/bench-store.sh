#!/usr/bin/env bash
# Builds a Release tree and runs the feature store benchmarks (docs/benchmarks.md,
# "Store"):
#   1. ingest: weir_store_bench, FeatureSink.Write from 4 streams into one
#      store against raw RocksDB WriteBatch ingest of the same rows;
#   2. online reads: weir-featurestore on loopback, populated, then
#      weir_online_read_bench open loop at 20k req/s with 1 key per request
#      and at 2k req/s with 100 keys per request;
#   3. historical: weir_historical_bench, the point-in-time join of 1M entity
#      rows x 5 features on one core (taskset) against one as_of read per
#      entity row.
#   ./scripts/bench-store.sh [ingest|reads|historical|all]   (default all)
# BUILD_DIR (default build-release), REPEAT (ingest runs, default 3),
# SECONDS_PER_RUN (reads, default 10) and KEYS (reads, default 100000) may be
# set in the environment.
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-all}"
build="${BUILD_DIR:-build-release}"
repeat="${REPEAT:-3}"
seconds="${SECONDS_PER_RUN:-10}"
keys="${KEYS:-100000}"
./scripts/setup.sh >/dev/null
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target weir_store_bench weir-featurestore weir_online_read_bench weir_historical_bench

if [[ "$what" == all || "$what" == ingest ]]; then
  "./$build/bench/weir_store_bench" --repeat "$repeat"
fi

if [[ "$what" == all || "$what" == historical ]]; then
  taskset -c 0 "./$build/bench/weir_historical_bench"
fi

if [[ "$what" == all || "$what" == reads ]]; then
  work="$(mktemp -d)"
  store_pid=""
  cleanup() {
    if [[ -n "$store_pid" ]]; then kill "$store_pid" 2>/dev/null || true; wait "$store_pid" 2>/dev/null || true; fi
    rm -rf "$work"
  }
  trap cleanup EXIT
  "./$build/featurestore/weir-featurestore" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 \
    --data-dir "$work/data" --log-level warn --max-message-mib 64 >"$work/store.log" 2>&1 &
  store_pid=$!
  address=""
  for _ in $(seq 1 100); do
    address="$(sed -n 's/.*weir-featurestore listening on \([0-9.:]*\).*/\1/p' "$work/store.log" | head -1)"
    [[ -n "$address" ]] && break
    sleep 0.1
  done
  if [[ -z "$address" ]]; then
    echo "weir-featurestore did not start:" >&2
    cat "$work/store.log" >&2
    exit 1
  fi
  bench="./$build/bench/weir_online_read_bench"
  "$bench" --store "$address" --view v --keys "$keys" --populate --rate 200 --seconds 2 >/dev/null
  # Each run says whether its target was met; one with failed requests (an
  # overloaded store misses deadlines) does not stop the other.
  failed=0
  "$bench" --store "$address" --view v --keys "$keys" --keys-per-request 1 --rate 20000 --seconds "$seconds" \
    --target-p99-ms 1 || failed=1
  sleep 5  # let a backlog drain before the next run
  "$bench" --store "$address" --view v --keys "$keys" --keys-per-request 100 --rate 2000 --seconds "$seconds" \
    --target-p99-ms 3 || failed=1
  exit "$failed"
fi
