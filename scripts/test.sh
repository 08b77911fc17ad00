#!/usr/bin/env bash
# Installs what is missing, builds, and runs every check CI runs, in phases
# whose durations it prints (and sums up at the end):
#   format      clang-format over the tree
#   build       the RelWithDebInfo build (build/)
#   tests       its unit, integration, chaos and deploy tests (ctest)
#   clang-tidy  the checks .clang-tidy names over every .cc of ours outside
#               tests/, from build/compile_commands.json; any finding fails
#   asan        every unit test binary, gRPC side included, under ASan+UBSan
#               (build-asan/; leak suppressions: tests/sanitizers/lsan.supp)
#   tsan        the threaded unit tests (worker, coordinator with its gRPC
#               service, feature store, daemon) under TSan (build-tsan/;
#               suppressions for uninstrumented libraries: tests/sanitizers/tsan.supp)
# Every build goes through ccache. Exits non-zero on any failure.
#
#   ./scripts/test.sh                  everything
#   SKIP_ASAN=1 SKIP_TSAN=1 SKIP_TIDY=1 ./scripts/test.sh   skip those phases (local iteration)
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
phase_start=0
current=""
begin() {
  current=$1
  phase_start=$SECONDS
  echo "== $1"
}
end() {
  phase_names+=("$current")
  phase_seconds+=($((SECONDS - phase_start)))
  echo "== $current: $((SECONDS - phase_start)) s"
  current=""
}
summary() {
  local code=$?
  [ -n "$current" ] && { phase_names+=("$current (failed)"); phase_seconds+=($((SECONDS - phase_start))); }
  echo "== phase times"
  for i in "${!phase_names[@]}"; do printf '   %-24s %5d s\n' "${phase_names[$i]}" "${phase_seconds[$i]}"; done
  printf '   %-24s %5d s\n' total "$SECONDS"
  exit $code
}
trap summary EXIT

begin setup
./scripts/setup.sh
end

begin format
./scripts/check-format.sh
end

begin build
configure build
cmake --build build -j "$JOBS"
end

begin tests
ctest --test-dir build --output-on-failure -j "$JOBS" --timeout 600
end

if [ "${SKIP_TIDY:-0}" != "1" ]; then
  begin clang-tidy
  ./scripts/clang-tidy.sh build
  end
fi

# The unit test binaries of every module; the TSan build runs the threaded ones.
unit_targets=(weir_common_tests weir_spec_tests weir_engine_tests weir_decode_tests weir_coordinator_tests
  weir_coordinator_grpc_tests weir_featurestore_tests weir_worker_tests weir_devkafka_tests weir_daemon_tests)
threaded_targets=(weir_worker_tests weir_coordinator_tests weir_coordinator_grpc_tests weir_featurestore_tests
  weir_daemon_tests)

if [ "${SKIP_ASAN:-0}" != "1" ]; then
  begin "asan build"
  configure build-asan -DWEIR_SANITIZE=address -DWEIR_BUILD_BENCH=OFF
  cmake --build build-asan -j "$JOBS" --target "${unit_targets[@]}"
  end
  begin "asan tests"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
    LSAN_OPTIONS="suppressions=$root/tests/sanitizers/lsan.supp:print_suppressions=0" \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan -L unit --output-on-failure -j "$JOBS" --timeout 900
  end
fi

if [ "${SKIP_TSAN:-0}" != "1" ]; then
  begin "tsan build"
  configure build-tsan -DWEIR_SANITIZE=thread -DWEIR_BUILD_BENCH=OFF
  cmake --build build-tsan -j "$JOBS" --target "${threaded_targets[@]}"
  end
  begin "tsan tests"
  TSAN_OPTIONS="suppressions=$root/tests/sanitizers/tsan.supp:ignore_noninstrumented_modules=1:halt_on_error=1:second_deadlock_stack=1" \
    ctest --test-dir build-tsan -L unit --output-on-failure -j "$JOBS" --timeout 900
  end
fi
