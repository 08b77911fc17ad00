#!/usr/bin/env python3
"""Compares two files of feature rows (JSON lines, Weir's row format) key for key and window
for window: every (feature, key, window_start, window_end, revision) must be in both, with the
same value (counts exactly, sums within 1e-9 relative: the engines add in different orders).
available_at is not compared (Weir's is per partition, the peers' is not).

  compare_rows.py EXPECTED ACTUAL --feature NAME [--feature NAME ...]

Exits 1 naming the first differences; prints one line per feature when they agree.
"""
import argparse
import json
import math
import sys


def load(path, features):
    rows = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            r = json.loads(line)
            if r["feature"] not in features:
                continue
            k = (r["feature"], r["key"], r["window_start"], r["window_end"], r.get("revision", 0))
            if k in rows:
                sys.exit(f"{path}:{n}: a second row for {k}")
            rows[k] = r["value"]
    return rows


def same(a, b):
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b


def main():
    p = argparse.ArgumentParser()
    p.add_argument("expected")
    p.add_argument("actual")
    p.add_argument("--feature", action="append", required=True)
    a = p.parse_args()
    exp = load(a.expected, set(a.feature))
    act = load(a.actual, set(a.feature))
    problems = []
    for k in sorted(exp.keys() - act.keys())[:5]:
        problems.append(f"only in {a.expected}: {k} = {exp[k]}")
    for k in sorted(act.keys() - exp.keys())[:5]:
        problems.append(f"only in {a.actual}: {k} = {act[k]}")
    differ = [k for k in sorted(exp.keys() & act.keys()) if not same(exp[k], act[k])]
    for k in differ[:5]:
        problems.append(f"{k}: {exp[k]} in {a.expected}, {act[k]} in {a.actual}")
    for f in a.feature:
        if not any(k[0] == f for k in exp):
            problems.append(f"no {f} rows in {a.expected}: nothing to compare")
    if problems:
        print(f"rows differ ({len(exp.keys() - act.keys())} missing, {len(act.keys() - exp.keys())} extra,"
              f" {len(differ)} values differ):", file=sys.stderr)
        for line in problems:
            print("  " + line, file=sys.stderr)
        return 1
    for f in a.feature:
        rows = [k for k in exp if k[0] == f]
        print(f"{f}: {len(rows)} rows equal ({len({k[1] for k in rows})} keys,"
              f" {len({(k[2], k[3]) for k in rows})} windows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
