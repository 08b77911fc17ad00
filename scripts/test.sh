#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: the unit,
# integration, chaos and deploy (Kubernetes manifests, Dockerfile, metrics
# catalogue; Node.js) tests of the main build, then the unit tests of common/,
# the engine, the decoder and the coordinator again under ASan+UBSan. Exits
# non-zero on any failure.
#
#   ./scripts/test.sh            everything
#   SKIP_ASAN=1 ./scripts/test.sh   skip the sanitizer build (local iteration)
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh

JOBS="${JOBS:-$(nproc)}"

echo "== format check"
./scripts/check-format.sh

echo "== build (RelWithDebInfo)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$JOBS"

echo "== tests"
ctest --test-dir build --output-on-failure -j "$JOBS" --timeout 600

if [ "${SKIP_ASAN:-0}" != "1" ]; then
  echo "== unit tests under ASan+UBSan"
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWEIR_SANITIZE=ON -DWEIR_BUILD_GRPC=OFF \
    -DWEIR_BUILD_BENCH=OFF >/dev/null
  cmake --build build-asan -j "$JOBS" --target weir_common_tests weir_engine_tests weir_decode_tests weir_coordinator_tests
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan -L unit --output-on-failure -j "$JOBS" --timeout 900
fi
