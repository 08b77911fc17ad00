#!/usr/bin/env bash
# Runs clang-tidy with the checks .clang-tidy names over every .cc of ours
# outside tests/ (the libraries, the daemons, weirctl, tools and benchmarks)
# and the headers of ours they include, with the flags of
# BUILD_DIR/compile_commands.json. Any finding fails (exit 1).
#
#   ./scripts/clang-tidy.sh [BUILD_DIR [FILE...]]    default: build, every file
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${1:-build}
[ $# -gt 0 ] && shift
db="$build/compile_commands.json"
[ -f "$db" ] || { echo "clang-tidy: no $db; configure $build first (scripts/test.sh does)" >&2; exit 2; }
command -v run-clang-tidy >/dev/null || { echo "clang-tidy: not installed; run scripts/setup.sh" >&2; exit 2; }

if [ $# -gt 0 ]; then
  files=("$@")
else
  # Ours and compiled in this build (a build without gRPC has fewer).
  mapfile -t files < <(git ls-files '*.cc' | grep -v '^tests/' | while read -r f; do
    grep -q "\"file\": \"$root/$f\"" "$db" && echo "$f"
  done)
fi
[ ${#files[@]} -gt 0 ] || { echo "clang-tidy: no files" >&2; exit 2; }
echo "clang-tidy: ${#files[@]} files"
logs="$build/clang-tidy"
rm -rf "$logs"
mkdir -p "$logs"
# The build's headers of ours are reached through symlinks under
# BUILD_DIR/include (weir_module); generated code is included as system
# headers and so never reported. GCC-only warning flags are unknown to clang.
# One clang-tidy per file, JOBS at a time, each with a log of its own.
code=0
printf '%s\n' "${files[@]}" | xargs -P "${JOBS:-$(nproc)}" -I{} sh -c \
  'clang-tidy -p "$1" --quiet --header-filter="^$2/" --extra-arg=-Wno-unknown-warning-option \
     --warnings-as-errors="*" "$3" > "$4/$(echo "$3" | tr / _).log" 2>&1' \
  _ "$build" "$root" {} "$logs" || code=$?
# Findings only (a header's once), without clang-tidy's "N warnings generated".
cat "$logs"/*.log | grep -E "(warning|error): " | sort -u || true
if [ "$code" -ne 0 ]; then
  echo "clang-tidy: findings above (logs per file: $logs/); fix them or, for a deliberate exception, add" \
    "NOLINT(check) with the reason" >&2
  exit 1
fi
echo "clang-tidy: no findings"
