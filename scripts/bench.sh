#!/usr/bin/env bash
# Builds a Release tree and runs the engine benchmarks; figures go to stdout
# and to build-release/bench-results.json.
#   ./scripts/bench.sh [--benchmark_filter=REGEX]
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh >/dev/null
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-release --target weir_engine_bench
./build-release/bench/weir_engine_bench --benchmark_out=build-release/bench-results.json \
  --benchmark_out_format=json "$@"
