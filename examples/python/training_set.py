#!/usr/bin/env python3
"""A leakage-free training set with the weir SDK.

Submits a job, streams transactions into Kafka (with disorder and late
records), then builds a training set from labelled entity rows (user, time of
the prediction, label) with get_historical_features: each row gets the
feature values an online read returned at that time. Finally it counts how
many of those rows a naive join (the latest window with window_end <= T)
would have leaked future information into, computed from `weir.replay` of
the same events.

    python examples/python/training_set.py --coordinator 127.0.0.1:7071 \\
        --store 127.0.0.1:7070 --bootstrap 127.0.0.1:9092 --topic txn_example

Needs a running cluster whose topic exists (all events go to its partition
0), kcat to produce, and weirctl (on PATH, $WEIRCTL or --weirctl).
"""
from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional

import pandas as pd

import weir

T0 = 1_700_000_040_000  # a minute boundary
USERS = [f"user{i}" for i in range(12)]


def job_spec(bootstrap: str, topic: str, store: str) -> Dict[str, Any]:
    return {
        "name": "training-example",
        "source": {"kafka": {"brokers": bootstrap, "topic": topic, "start": "earliest"}, "format": "json"},
        "key": "user_id",
        "event_time": {"field": "ts", "unit": "ms"},
        "watermark": {"max_out_of_orderness": "5s"},
        "allowed_lateness": "1m",
        "view": "txn_example",
        "features": [
            {"name": "txn_count_30s", "agg": "count", "window": {"tumbling": "30s"}},
            {"name": "amount_sum_1m", "agg": "sum", "field": "amount",
             "window": {"sliding": {"size": "1m", "slide": "30s"}}},
            {"name": "amount_max_30s", "agg": "max", "field": "amount", "window": {"tumbling": "30s"}},
        ],
        "sink": {"feature_store": store},
    }


def transactions(n: int = 1200, seed: int = 7) -> List[Dict[str, Any]]:
    """Transactions over 10 minutes, up to 4 s out of order; every 25th
    arrives 40 s late (a correction of a window already fired)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        ts = T0 + i * 500 - rng.randint(0, 4000)
        if i % 25 == 24:
            ts -= 40000
        out.append({"user_id": rng.choice(USERS), "ts": ts, "amount": round(rng.uniform(1, 200), 2)})
    return out


def labelled_entities(n: int = 2000, seed: int = 8) -> pd.DataFrame:
    """Entity rows: a user, the time a prediction was made, and its label."""
    rng = random.Random(seed)
    times = [T0 + rng.randint(0, 660_000) for _ in range(n)]
    return pd.DataFrame({"user_id": [rng.choice(USERS) for _ in range(n)],
                         "ts": pd.to_datetime(times, unit="ms"),
                         "is_fraud": [int(rng.random() < 0.1) for _ in range(n)]})


def naive_value(rows: pd.DataFrame, t: int) -> Optional[float]:
    """The leaky join: the latest window ending by t, its latest revision."""
    ended = rows[rows["window_end"] <= t]
    if ended.empty:
        return None
    return ended.sort_values(["window_end", "revision"]).iloc[-1]["value"]


def run(client: weir.Client, bootstrap: str, topic: str, produce: bool = True) -> Dict[str, int]:
    spec = job_spec(bootstrap, topic, client.store)
    events = transactions()
    if produce:
        subprocess.run(["kcat", "-b", bootstrap, "-P", "-t", topic, "-p", "0"],
                       input="".join(json.dumps(e) + "\n" for e in events).encode(), check=True, timeout=60)
    job = client.submit(spec)
    print(f"submitted {job['spec']['name']}: {len(job.get('partitions', []))} partition(s)")

    # What the job emits, offline and deterministically: the same rows the
    # store receives, with available_at.
    rows = weir.replay(spec, events, flush=False, weirctl=client._weirctl).to_df()
    print(f"replay: {len(rows)} rows, {int((rows['revision'] > 0).sum())} corrections")
    features = [f["name"] for f in spec["features"]]
    _wait_for_store(client, spec["view"], rows, features)

    entities = labelled_entities()
    training = client.get_historical_features(entities, spec["view"], features, key_column="user_id",
                                              timestamp_column="ts")
    print(training.head(8).to_string(index=False))

    # Leakage of the naive join, per entity row (any feature differs).
    by_key = {k: g for k, g in rows.groupby(["key", "feature"])}
    leaked = unclosed = corrected = 0
    ms = entities["ts"].astype("datetime64[ms]").astype("int64")
    for i, (user, t) in enumerate(zip(entities["user_id"], ms)):
        row_leaks = False
        for f in features:
            g = by_key.get((user, f))
            if g is None:
                continue
            want = training.iloc[i][f]
            got = naive_value(g, int(t))
            same = (got is None and pd.isna(want)) or (got is not None and not pd.isna(want) and got == want)
            if not same:
                row_leaks = True
                # The naive row was not available at t: its window had not
                # closed yet, or it is a correction made after t.
                ended = g[g["window_end"] <= t]
                top = ended.sort_values(["window_end", "revision"]).iloc[-1]
                window = ended[ended["window_end"] == top["window_end"]]
                if (window["available_at"] <= t).any():
                    corrected += 1
                else:
                    unclosed += 1
        leaked += row_leaks
    print(f"training set: {len(training)} labelled rows x {len(features)} features")
    print(f"a naive window_end <= T join would have leaked future information into {leaked} of {len(training)} "
          f"rows ({unclosed} feature values from windows not yet closed, {corrected} from later corrections)")
    return {"rows": len(training), "leaked": leaked, "unclosed": unclosed, "corrected": corrected}


def _wait_for_store(client: weir.Client, view: str, rows: pd.DataFrame, features: List[str]) -> None:
    """Waits (at most 60 s) until the store's latest rows are replay's."""
    latest = rows.sort_values(["window_end", "revision"]).groupby(["key", "feature"]).tail(1)
    keys = sorted(latest["key"].unique())
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            got = client.get_online_features(view, keys, features)
            have = {(r["key"], r["feature"], r["window_end"], r["revision"]) for r in got.rows}
            if all((r.key, r.feature, r.window_end, r.revision) in have for r in latest.itertuples()):
                return
        except weir.NotFoundError:
            pass  # no row written yet
        time.sleep(0.2)
    raise TimeoutError("the store did not hold the job's rows within 60 s: is a worker running?")


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--coordinator", default="127.0.0.1:7071")
    p.add_argument("--store", default="127.0.0.1:7070")
    p.add_argument("--bootstrap", default="127.0.0.1:9092", help="Kafka bootstrap servers")
    p.add_argument("--topic", default="txn_example", help="an existing topic; events go to its partition 0")
    p.add_argument("--weirctl", default=None)
    args = p.parse_args(argv)
    with weir.Client(coordinator=args.coordinator, store=args.store, weirctl=args.weirctl) as client:
        run(client, args.bootstrap, args.topic)
    return 0


if __name__ == "__main__":
    sys.exit(main())
