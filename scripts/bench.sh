#!/usr/bin/env bash
# Builds a Release tree and runs the engine benchmarks; figures go to stdout
# and to $BUILD_DIR/bench-results.json, then one line per performance target
# (figure, same-run baseline, ratio, MET or MISSED; scripts/bench_summary.py).
#   ./scripts/bench.sh [--benchmark_filter=REGEX] [--benchmark_repetitions=N]
# BUILD_DIR (default build-release) is the Release tree to build and run.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build-release}
./scripts/setup.sh >/dev/null
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target weir_engine_bench
"./$build/bench/weir_engine_bench" --benchmark_out="$build/bench-results.json" \
  --benchmark_out_format=json "$@"
echo
python3 scripts/bench_summary.py "$build/bench-results.json"
