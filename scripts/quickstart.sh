#!/usr/bin/env bash
# The first command on a fresh machine: installs what is missing, builds, and
# runs the demo job over the sample events with the same engine the workers
# run, then shows the features it computed.
#
# (The local cluster — devkafka, feature store, coordinator and workers — joins
# this script with the Cluster milestone; see README.md.)
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build --target weirctl

mkdir -p logs
out=logs/quickstart-features.jsonl
echo
echo "== weirctl replay: examples/user_txn.yaml over examples/user_txn.events.jsonl"
./build/cli/weirctl replay --job examples/user_txn.yaml --input examples/user_txn.events.jsonl \
  --output "$out" --dead-letter logs/quickstart-dead-letters.jsonl --flush
echo
echo "== the latest value of each feature for user u1 (full output: $out)"
grep '"key":"u1"' "$out" | awk -F'"feature":"' '{split($2, a, "\""); last[a[1]] = $0} END {for (f in last) print last[f]}' | sort
echo
echo "== dead letters (logs/quickstart-dead-letters.jsonl)"
cat logs/quickstart-dead-letters.jsonl
