#!/usr/bin/env bash
# The weir Python SDK's pytest suite (python/tests) against a real local
# cluster of the binaries under test. It installs the package from python/
# into a scratch folder with the virtual environment scripts/setup.sh made
# (.cache/venv: grpcio-tools generates the stubs from proto/, offline), then
# runs pytest from there, so what is tested is what `pip install ./python`
# installs.
#   python_test.sh SOURCE_DIR WEIRCTL DEVKAFKA FEATURESTORE COORDINATOR WORKER
set -euo pipefail
src=$1
export WEIR_SOURCE_DIR=$src WEIRCTL=$2 WEIR_DEVKAFKA=$3 WEIR_FEATURESTORE=$4 WEIR_COORDINATOR=$5 WEIR_WORKER=$6
python="$src/.cache/venv/bin/python"
if [ ! -x "$python" ]; then
  # In CI setup.sh has made it: its absence there is a failure, not a skip.
  [ "${CI:-}" = true ] && { echo "FAIL: no virtual environment at $src/.cache/venv (scripts/setup.sh makes it)" >&2; exit 1; }
  echo "SKIP: no virtual environment at $src/.cache/venv (run ./scripts/setup.sh)"
  exit 77
fi
command -v kcat >/dev/null || { echo "FAIL: kcat is not installed (scripts/setup.sh installs it)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# A copy of python/ beside proto/, so the in-tree build leaves no files in the source tree.
mkdir -p "$tmp/src"
cp -r "$src/proto" "$tmp/src/proto"
(cd "$src/python" && tar --exclude=build --exclude='*.egg-info' --exclude=weir/v1 --exclude=__pycache__ -cf - .) |
  (mkdir -p "$tmp/src/python" && cd "$tmp/src/python" && tar -xf -)
"$python" -m pip install --quiet --no-index --no-build-isolation --no-deps --target "$tmp/site" "$tmp/src/python" \
  > "$tmp/pip.log" 2>&1 || { cat "$tmp/pip.log" >&2; echo "FAIL: pip install ./python" >&2; exit 1; }
cd "$tmp/src/python"
rm -rf weir  # import the installed package, not the copy
PYTHONPATH="$tmp/site" "$python" -m pytest -q -p no:cacheprovider tests
