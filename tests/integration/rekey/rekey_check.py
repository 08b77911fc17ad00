#!/usr/bin/env python3
"""Helpers of rekey_test.sh: makes the input, computes the aggregates
independently of Weir, and compares rows.

  rekey_check.py gen OUT N SEED T0      records as "user_id<TAB>json" lines (kcat -K'\t')
  rekey_check.py check RECORDS ROWS KEY MAX_END   rows (JSON lines, every revision) against
        count and sum of `amount` per KEY and 1-minute window, for windows ending by MAX_END
  rekey_check.py same A B                 the same rows (view, key, feature, window, revision, value)
"""
import collections
import json
import random
import sys

WINDOW = 60_000


def gen(out, n, seed, t0):
    rnd = random.Random(seed)
    with open(out, "w") as f:
        for i in range(n):
            user = "u%d" % rnd.randrange(40)
            rec = {"user_id": user, "ts": t0 + i * 40 - rnd.randrange(5000), "amount": rnd.randrange(1, 100)}
            if i % 97 != 13:  # a few records have no merchant: the re-keyed job's dead letters
                rec["merchant"] = "m%d" % rnd.randrange(9)
            f.write(user + "\t" + json.dumps(rec, separators=(",", ":")) + "\n")


def latest(rows_path):
    """(key, feature, window_end) -> (revision, value) of the highest revision."""
    best = {}
    with open(rows_path) as f:
        for line in f:
            if not line.strip():
                continue
            r = json.loads(line)
            k = (r["key"], r["feature"], r["window_end"])
            if k not in best or r["revision"] > best[k][0]:
                best[k] = (r["revision"], r["value"])
    return best


def check(records_path, rows_path, key, max_end):
    want = collections.defaultdict(lambda: [0, 0])
    with open(records_path) as f:
        for line in f:
            rec = json.loads(line.split("\t", 1)[1])
            if key not in rec:
                continue
            end = (rec["ts"] // WINDOW + 1) * WINDOW
            if end > max_end:
                continue
            w = want[(str(rec[key]), end)]
            w[0] += 1
            w[1] += rec["amount"]
    got = latest(rows_path)
    bad = []
    for (k, end), (n, total) in sorted(want.items()):
        for feature, value in (("n_1m", n), ("amount_1m", total)):
            g = got.get((k, feature, end))
            if g is None or g[1] != value:
                bad.append("%s %s window_end %d: got %s, want %s" % (k, feature, end, g and g[1], value))
    extra = [k for k in got if k[2] <= max_end and (k[0], k[2]) not in want]
    for k in extra:
        bad.append("%s %s window_end %d: a row for a window with no event" % k)
    windows = len(want)
    if bad:
        print("\n".join(bad[:20]), file=sys.stderr)
        print("%d mismatches over %d (key, window)s" % (len(bad), windows), file=sys.stderr)
        sys.exit(1)
    print("%d (key, window)s, %d features each, all equal to the independent aggregate" % (windows, 2))


def same(a, b):
    def rows(path):
        out = set()
        with open(path) as f:
            for line in f:
                if line.strip():
                    r = json.loads(line)
                    out.add((r["key"], r["feature"], r["window_start"], r["window_end"], r["revision"],
                             json.dumps(r["value"])))
        return out
    ra, rb = rows(a), rows(b)
    if ra != rb:
        print("only in %s: %s" % (a, sorted(ra - rb)[:10]), file=sys.stderr)
        print("only in %s: %s" % (b, sorted(rb - ra)[:10]), file=sys.stderr)
        sys.exit(1)
    print("%d rows, the same in both" % len(ra))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "gen":
        gen(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    elif cmd == "check":
        check(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    elif cmd == "same":
        same(sys.argv[2], sys.argv[3])
    else:
        sys.exit("unknown command " + cmd)
