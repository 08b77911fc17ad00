#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/, clang with ASan+UBSan) in
# build-fuzz and runs each on its seed corpus for a bounded time. Exits
# non-zero when a target crashes, leaks, times out or breaks an invariant;
# the input that did it is kept in build-fuzz/artifacts/<target>/.
#
#   ./scripts/fuzz.sh                     every target, 30 s each
#   ./scripts/fuzz.sh --seconds 600       longer
#   ./scripts/fuzz.sh --target job_spec   one target
#   ./scripts/fuzz.sh --seeds             rewrite the snapshot seeds (after a format change)
#
# Seeds live in tests/fuzz/corpus/<target>/ (in the repo); what the fuzzer
# finds on top of them goes to build-fuzz/corpus/<target>/ (not in the repo).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=30
only=""
seeds=0
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --target) only="$2"; shift 2 ;;
    --seeds) seeds=1; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "fuzz.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

targets=(record_decoder job_spec snapshot devkafka_rewrite row_import)
if [ -n "$only" ]; then
  [[ " ${targets[*]} " == *" $only "* ]] || { echo "fuzz.sh: no target $only (one of: ${targets[*]})" >&2; exit 2; }
  targets=("$only")
fi

cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++-14 -DWEIR_FUZZ=ON \
  -DWEIR_BUILD_GRPC=OFF -DWEIR_BUILD_TESTS=OFF -DWEIR_BUILD_BENCH=OFF >/dev/null
build_targets=(weir_snapshot_seeds)
for t in "${targets[@]}"; do build_targets+=("weir_${t}_fuzz"); done
cmake --build build-fuzz -j "${JOBS:-$(nproc)}" --target "${build_targets[@]}"

if [ "$seeds" = 1 ]; then
  rm -f tests/fuzz/corpus/snapshot/seed*
  build-fuzz/tests/fuzz/weir_snapshot_seeds tests/fuzz/corpus/snapshot tests/fuzz/corpus/record_decoder/*.jsonl
  echo "fuzz: wrote $(ls tests/fuzz/corpus/snapshot | wc -l) snapshot seeds"
fi

failed=0
for t in "${targets[@]}"; do
  work="build-fuzz/corpus/$t"
  artifacts="build-fuzz/artifacts/$t"
  mkdir -p "$work" "$artifacts"
  log="build-fuzz/$t.log"
  # -rss_limit_mb: a leak or unbounded state fails; -timeout: one input may take at most 10 s.
  if build-fuzz/tests/fuzz/weir_${t}_fuzz -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
      -print_final_stats=1 -artifact_prefix="$artifacts/" "$work" "tests/fuzz/corpus/$t" >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    corpus=$(ls "$work" | wc -l)
    echo "fuzz: $t: ${runs:-?} executions in ${seconds} s, no crash (corpus $corpus inputs)"
  else
    failed=1
    echo "fuzz: $t FAILED; the input is in $artifacts/, the log in $log:" >&2
    grep -E "ERROR|invariant|SUMMARY|Test unit written" "$log" | head -10 >&2
  fi
done
exit $failed
