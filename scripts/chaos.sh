#!/usr/bin/env bash
# The long chaos run: builds, then streams a keyed, out-of-order workload with
# late events through weir-devkafka into a 3-worker cluster while it injects a
# random fault every 5 s (kill -9 a worker, a zombie worker, kill -9 the
# coordinator, a broker down and up, a feature-store restart), and checks at
# the end that the store equals `weirctl replay` of each partition exactly.
# Prints faults, rows checked, mismatches and recovery times; exits non-zero
# on any mismatch.
#   ./scripts/chaos.sh --iterations 50 [--seed S] [--rate 800] [--keep]
#   ./scripts/chaos.sh --kafka real --iterations 30   on 3 real Apache Kafka brokers
#     (scripts/kafka.sh), with broker faults: kill -9 of a partition leader,
#     a broker stopped past its session timeout, a broker restart
#   ./scripts/chaos.sh --iterations 30 --rekey   also a re-keyed job (key merchant,
#     partitioned_by user_id) through the same faults, its stage-1 and stage-2
#     owners alike; its rows must equal `weirctl replay --rekeyed` of its
#     repartition topic
# (ctest runs a short variant: the `chaos` label.)
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh >/dev/null
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build --target weirctl weir-devkafka weir-loadgen weir-featurestore weir-coordinator weir-worker
exec python3 tests/chaos/chaos.py --bin build "$@"
