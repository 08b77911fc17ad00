#!/usr/bin/env bash
# Installs what is missing, builds, and runs every check CI runs, in phases
# whose durations it prints (and sums up at the end):
#   format      clang-format over the tree
#   build       the RelWithDebInfo build (build/)
#   tests       its unit, integration, real-Kafka (label kafka), chaos and deploy
#               tests (ctest)
#   clang-tidy  the checks .clang-tidy names over every .cc of ours outside
#               tests/, from build/compile_commands.json; any finding fails
#   asan        every unit test binary, gRPC side included, under ASan+UBSan
#               (build-asan/; leak suppressions: tests/sanitizers/lsan.supp)
#   tsan        the threaded unit tests (worker, coordinator with its gRPC
#               service, feature store, daemon) under TSan (build-tsan/;
#               suppressions for uninstrumented libraries: tests/sanitizers/tsan.supp)
#   fuzz        every libFuzzer target (tests/fuzz/, clang, build-fuzz/) from
#               its seed corpus for FUZZ_SECONDS (default 20) each
# Every build goes through ccache. A failed phase does not stop the next ones
# (but a failed build stops all); exits non-zero if any failed.
#
#   ./scripts/test.sh                  everything
#   SKIP_ASAN=1 SKIP_TSAN=1 SKIP_TIDY=1 SKIP_FUZZ=1 ./scripts/test.sh   skip those phases (local iteration)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

JOBS="${JOBS:-$(nproc)}"

# ccache keys on paths relative to the checkout and not on the working
# directory, so a fresh clone (CI's) reuses what an earlier checkout compiled.
export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=1
configure() {  # configure BUILD_DIR CMAKE_ARGS...
  local dir=$1
  shift
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER_LAUNCHER=ccache "$@" >/dev/null
}

phase_names=()
phase_seconds=()
failed=()
# phase NAME FUNCTION: runs it, timed; a failure is recorded and the next
# phases still run (so one CI log shows every problem), except after a failed
# build, which nothing else can use.
phase() {
  local name=$1 start=$SECONDS code=0
  echo "== $name"
  "$2" || code=$?  # the phases chain their steps with &&: set -e does not apply under ||
  phase_names+=("$name")
  phase_seconds+=($((SECONDS - start)))
  if [ $code -ne 0 ]; then
    failed+=("$name")
    echo "== $name: FAILED after $((SECONDS - start)) s"
  else
    echo "== $name: $((SECONDS - start)) s"
  fi
  return $code
}
summary() {
  echo "== phase times"
  for i in "${!phase_names[@]}"; do printf '   %-12s %5d s\n' "${phase_names[$i]}" "${phase_seconds[$i]}"; done
  printf '   %-12s %5d s\n' total "$SECONDS"
  if [ ${#failed[@]} -gt 0 ]; then
    echo "== FAILED: ${failed[*]}"
    exit 1
  fi
  echo "== all phases passed"
}

# The unit test binaries of every module; the TSan build runs the threaded ones.
unit_targets=(weir_common_tests weir_spec_tests weir_cli_tests weir_engine_tests weir_decode_tests weir_coordinator_tests
  weir_coordinator_grpc_tests weir_featurestore_tests weir_worker_tests weir_devkafka_tests weir_daemon_tests)
threaded_targets=(weir_worker_tests weir_coordinator_tests weir_coordinator_grpc_tests weir_featurestore_tests
  weir_daemon_tests)

setup() { ./scripts/setup.sh; }
format() { ./scripts/check-format.sh; }
build() { configure build && cmake --build build -j "$JOBS"; }
tests() { ctest --test-dir build --output-on-failure -j "$JOBS" --timeout 600; }
tidy() { ./scripts/clang-tidy.sh build; }
# The sanitizer builds compile at -O1 with line tables only (-g1): about a
# third less compile time than -O2 -g, and stacks still name file and line.
# Assertions stay on.
sanitizer_flags=(-DWEIR_BUILD_BENCH=OFF "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1" "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -g1")
asan() {
  configure build-asan -DWEIR_SANITIZE=address "${sanitizer_flags[@]}" &&
    cmake --build build-asan -j "$JOBS" --target "${unit_targets[@]}" &&
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
      LSAN_OPTIONS="suppressions=$root/tests/sanitizers/lsan.supp" \
      UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      ctest --test-dir build-asan -L unit --output-on-failure -j "$JOBS" --timeout 900
}
tsan() {
  configure build-tsan -DWEIR_SANITIZE=thread "${sanitizer_flags[@]}" &&
    cmake --build build-tsan -j "$JOBS" --target "${threaded_targets[@]}" &&
    TSAN_OPTIONS="suppressions=$root/tests/sanitizers/tsan.supp:ignore_noninstrumented_modules=1:halt_on_error=1:second_deadlock_stack=1" \
      ctest --test-dir build-tsan -L unit --output-on-failure -j "$JOBS" --timeout 900
}
fuzz() { JOBS=$JOBS ./scripts/fuzz.sh --seconds "${FUZZ_SECONDS:-20}"; }

phase setup setup || { summary; exit 1; }
phase format format || true
phase build build || { summary; exit 1; }
phase tests tests || true
[ "${SKIP_TIDY:-0}" = "1" ] || phase clang-tidy tidy || true
[ "${SKIP_ASAN:-0}" = "1" ] || phase asan asan || true
[ "${SKIP_TSAN:-0}" = "1" ] || phase tsan tsan || true
[ "${SKIP_FUZZ:-0}" = "1" ] || phase fuzz fuzz || true
summary
