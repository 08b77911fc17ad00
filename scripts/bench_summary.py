#!/usr/bin/env python3
"""Prints one line per issue-13 performance target from a Google Benchmark
JSON file of weir_engine_bench, each figure beside its baseline from the
same run:

  <target>: <figure>; baseline <figure>; ratio <r> (target <t>) MET|MISSED

With --benchmark_repetitions the medians are used, else the single runs.
Exit status 0 whatever the outcome (the lines say it).

  scripts/bench_summary.py build-release/bench-results.json
"""
import json
import sys


def runs(path):
    """name -> the run's fields; medians win over single iterations."""
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    single, median = {}, {}
    for b in doc.get("benchmarks", []):
        name = b.get("run_name", b["name"]).split("/")[0]
        if b.get("run_type") == "aggregate":
            if b.get("aggregate_name") == "median":
                median[name] = b
        else:
            single.setdefault(name, b)
    single.update(median)
    return single


def rate(b):
    return b["items_per_second"] / 1e6


def line(target, figure, baseline, ratio, goal, met):
    return f"{target}: {figure}; baseline {baseline}; ratio {ratio:.2f} (target {goal}) {'MET' if met else 'MISSED'}"


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    r = runs(argv[1])
    out = []
    if "BM_Sliding1h1mSum" in r and "BM_TumblingSum" in r:
        sliding, tumbling = rate(r["BM_Sliding1h1mSum"]), rate(r["BM_TumblingSum"])
        cost = tumbling / sliding  # cost is 1 / rate
        out.append(line("sliding 1h/1m sum cost / tumbling 1m sum cost", f"{sliding:.2f}M events/s",
                        f"tumbling sum {tumbling:.2f}M events/s", cost, "<= 1.2", cost <= 1.2))
    if "BM_JsonDecodeTumblingCount" in r and "BM_TumblingCount" in r:
        json_rate, decoded = rate(r["BM_JsonDecodeTumblingCount"]), rate(r["BM_TumblingCount"])
        ratio = json_rate / decoded
        out.append(line("JSON decode + tumbling count rate / pre-decoded rate", f"{json_rate:.2f}M events/s",
                        f"pre-decoded tumbling count {decoded:.2f}M events/s", ratio, ">= 0.6", ratio >= 0.6))
    for name, label in (("BM_TumblingCount", "count"), ("BM_TumblingSum", "sum")):
        if name in r and "state_bytes_per_key" in r[name]:
            bytes_per_key = r[name]["state_bytes_per_key"]
            ratio = bytes_per_key / 128
            out.append(line(f"tumbling {label} state bytes per key", f"{bytes_per_key:.0f} B",
                            "budget 128 B", ratio, "<= 1.0", ratio <= 1.0))
    if not out:
        print("bench_summary: none of the target benchmarks ran (check --benchmark_filter)", file=sys.stderr)
        return 1
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
