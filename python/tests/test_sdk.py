"""The weir SDK against a real local cluster (conftest.py): jobs, online and
point-in-time reads checked against an independent computation from
`weirctl replay` output, and the errors users see."""
from __future__ import annotations

import json
import random
import time
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import pandas as pd
import pytest

import weir

T0 = 1_700_000_040_000  # a minute boundary
KEYS = {0: ["u0", "u1", "u2"], 1: ["u3", "u4"]}  # the partition each key's records are written to


def job_spec(cluster, name: str = "pit", view: str = "pit") -> Dict[str, Any]:
    return {
        "name": name,
        "source": {"kafka": {"brokers": cluster.bootstrap, "topic": "events", "start": "earliest"}, "format": "json"},
        "key": "user_id",
        "event_time": {"field": "ts", "unit": "ms"},
        "watermark": {"max_out_of_orderness": "3s"},
        "allowed_lateness": "30s",
        "view": view,
        "features": [
            {"name": "n_10s", "agg": "count", "window": {"tumbling": "10s"}},
            {"name": "amount_20s", "agg": "sum", "field": "amount", "window": {"sliding": {"size": "20s", "slide": "10s"}}},
            {"name": "last_type_10s", "agg": "last", "field": "type", "window": {"tumbling": "10s"}},
        ],
        "sink": {"feature_store": cluster.store},
    }


def partition_records(partition: int, seed: int) -> List[str]:
    """Keyed records with disorder up to 2 s, and every 17th 12 s behind: a
    correction of a window that already fired."""
    rng = random.Random(seed)
    out = []
    for i in range(240):
        key = rng.choice(KEYS[partition])
        ts = T0 + i * 500 + rng.randint(-2000, 0)
        if i % 17 == 16:
            ts -= 12000
        out.append(json.dumps({"user_id": key, "ts": ts, "amount": rng.randint(1, 9), "type": rng.choice("abc")}))
    return out


def latest_where(rows: List[Dict[str, Any]], key: str, feature: str, t: int, field: str) -> Optional[Dict[str, Any]]:
    """The greatest (window_end, revision) among key's feature rows with
    row[field] <= t."""
    best = None
    for r in rows:
        if r["key"] == key and r["feature"] == feature and r[field] <= t:
            if best is None or (r["window_end"], r["revision"]) > (best["window_end"], best["revision"]):
                best = r
    return best


def point_in_time(rows: List[Dict[str, Any]], key: str, feature: str, t: int) -> Optional[Dict[str, Any]]:
    """The independent rule: among rows available at t."""
    return latest_where(rows, key, feature, t, "available_at")


def naive(rows: List[Dict[str, Any]], key: str, feature: str, t: int) -> Optional[Dict[str, Any]]:
    """The leaky rule: among windows that ended by t."""
    return latest_where(rows, key, feature, t, "window_end")


@pytest.fixture(scope="module")
def streamed(cluster, client) -> List[Dict[str, Any]]:
    """Submits the job, streams both partitions, waits until the store holds
    exactly what `weirctl replay` of each partition emits; returns those
    rows (with available_at)."""
    spec = job_spec(cluster)
    expected: List[Dict[str, Any]] = []
    for p in (0, 1):
        records = partition_records(p, seed=p + 1)
        cluster.produce(p, records)
        expected += weir.replay(spec, records, flush=False, weirctl=cluster.weirctl)
    job = client.submit(spec)
    assert job["spec"]["name"] == "pit"
    latest: Dict[Tuple[str, str], Dict[str, Any]] = {}
    for r in expected:
        k = (r["key"], r["feature"])
        if k not in latest or (r["window_end"], r["revision"]) > (latest[k]["window_end"], latest[k]["revision"]):
            latest[k] = r
    keys = sorted({k for ks in KEYS.values() for k in ks})
    deadline = time.monotonic() + 60
    while True:
        got = client.get_online_features("pit", keys) if _view_exists(client) else None
        if got is not None and all(
                any(r["key"] == k and r["feature"] == f and r["window_end"] == want["window_end"]
                    and r["revision"] == want["revision"] for r in got.rows) for (k, f), want in latest.items()):
            break
        if time.monotonic() > deadline:
            pytest.fail(f"the store did not catch up with replay within 60 s; logs: {cluster.logs()}")
        time.sleep(0.2)
    return expected


def _view_exists(client) -> bool:
    try:
        client.get_online_features("pit", ["u0"])
        return True
    except weir.NotFoundError:
        return False


def test_jobs_status_checkpoint_and_events(client, streamed):
    assert "pit" in [j["spec"]["name"] for j in client.jobs()]
    status = client.status("pit")
    assert len(status["partitions"]) == 2
    assert client.checkpoint("pit") >= 1
    events = client.events(job="pit")
    assert events and all(e["job"] == "pit" and e["message"] for e in events)
    assert "CLUSTER_EVENT_JOB_SUBMITTED" in {e["kind"] for e in events}
    assert len(client.events()) >= len(events)
    with pytest.raises(weir.NotFoundError, match="nosuchjob"):
        client.status("nosuchjob")


def test_replay_rows_carry_available_at(streamed):
    assert streamed, "replay emitted rows"
    for r in streamed:
        assert r["available_at"] >= r["window_end"]
    corrections = [r for r in streamed if r["revision"] > 0]
    assert corrections, "the records make corrections"
    first = {(r["key"], r["feature"], r["window_end"]): r for r in streamed if r["revision"] == 0}
    for c in corrections:
        assert c["available_at"] > first[(c["key"], c["feature"], c["window_end"])]["available_at"]


def probe_times(rows: List[Dict[str, Any]], seed: int) -> List[int]:
    """Random times, plus the edges: each row's window end (before it is
    available), one ms before and at its availability."""
    rng = random.Random(seed)
    times = [rng.randint(T0 - 5000, T0 + 140000) for _ in range(60)]
    for r in rng.sample(rows, min(80, len(rows))):
        times += [r["window_end"], r["available_at"] - 1, r["available_at"]]
    return times


def test_online_as_of_matches_replay(client, streamed):
    keys = sorted({r["key"] for r in streamed})
    features = ["n_10s", "amount_20s", "last_type_10s"]
    leaks = 0
    for t in probe_times(streamed, seed=3)[:150]:
        got = client.get_online_features("pit", keys, features, as_of=t)
        for k in keys:
            for f in features:
                want = point_in_time(streamed, k, f, t)
                assert got[k][f] == (want["value"] if want else None), (k, f, t)
                if naive(streamed, k, f, t) != want:
                    leaks += 1
    assert leaks > 0, "the probes include times where the naive rule leaks"
    latest = client.get_online_features("pit", keys)  # no as_of: the latest row
    for k in keys:
        assert latest[k]["n_10s"] == point_in_time(streamed, k, "n_10s", 2**62)["value"]
    df = latest.to_df()
    assert list(df.columns) == ["n_10s", "amount_20s", "last_type_10s"] or set(df.columns) >= set(features)
    assert list(df.index) == keys


def test_historical_matches_replay(client, streamed):
    keys = sorted({r["key"] for r in streamed})
    rng = random.Random(5)
    times = probe_times(streamed, seed=4)
    entity = pd.DataFrame({"user_id": [rng.choice(keys) for _ in times], "ts": times, "label": range(len(times))})
    features = ["n_10s", "amount_20s", "last_type_10s"]
    out = client.get_historical_features(entity, "pit", features, key_column="user_id", timestamp_column="ts")
    assert list(out.columns) == ["user_id", "ts", "label"] + features
    assert list(out["label"]) == list(range(len(times)))
    for row in out.itertuples(index=False):
        for f in features:
            want = point_in_time(streamed, row.user_id, f, row.ts)
            got = getattr(row, f)
            if want is None:
                assert got is None or (isinstance(got, float) and np.isnan(got)), (row, f)
            else:
                assert got == want["value"], (row, f)
    # pandas datetimes give the same answer as ms integers
    as_dates = entity.assign(ts=pd.to_datetime(entity["ts"], unit="ms"))
    out2 = client.get_historical_features(as_dates, "pit", features, key_column="user_id", timestamp_column="ts")
    pd.testing.assert_series_equal(out2["amount_20s"], out["amount_20s"])
    tz = entity.assign(ts=pd.to_datetime(entity["ts"], unit="ms", utc=True).dt.tz_convert("Europe/Paris"))
    out3 = client.get_historical_features(tz, "pit", features, key_column="user_id", timestamp_column="ts")
    pd.testing.assert_series_equal(out3["n_10s"], out["n_10s"])


def test_bad_input_gets_clear_errors(cluster, client, streamed):
    good = pd.DataFrame({"key": ["u0"], "timestamp": [T0 + 60000]})
    with pytest.raises(weir.InvalidArgumentError, match="empty"):
        client.get_historical_features(good.iloc[0:0], "pit", ["n_10s"])
    with pytest.raises(weir.InvalidArgumentError, match="no column 'user'"):
        client.get_historical_features(good, "pit", ["n_10s"], key_column="user")
    with pytest.raises(weir.InvalidArgumentError, match="no column 'when'"):
        client.get_historical_features(good, "pit", ["n_10s"], timestamp_column="when")
    with pytest.raises(weir.NotFoundError, match='view "nope"'):
        client.get_historical_features(good, "nope", ["n_10s"])
    with pytest.raises(weir.NotFoundError, match='no feature "n_99s"'):
        client.get_historical_features(good, "pit", ["n_99s"])
    with pytest.raises(weir.NotFoundError, match='no feature "n_99s"'):
        client.get_online_features("pit", ["u0"], ["n_99s"])
    with pytest.raises(TypeError, match="float64"):
        client.get_historical_features(good.assign(timestamp=[1.5]), "pit", ["n_10s"])
    with pytest.raises(TypeError, match="object"):
        client.get_historical_features(good.assign(timestamp=["yesterday"]), "pit", ["n_10s"])
    with pytest.raises(weir.InvalidArgumentError, match="features is empty"):
        client.get_historical_features(good, "pit", [])
    with pytest.raises(TypeError):
        client.get_historical_features([("u0", 1)], "pit", ["n_10s"])


def test_bad_spec_names_every_problem(cluster, client):
    spec = job_spec(cluster, name="broken")
    spec["features"][0]["window"] = {"tumbling": "ten seconds"}
    spec["features"][1]["agg"] = "median"
    spec["retention"] = "forever"
    with pytest.raises(weir.SpecError) as e:
        client.submit(spec)
    text = "\n".join(e.value.problems)
    assert "features[0].window.tumbling" in text and "features[1].agg" in text and "retention" in text, text


def test_unreachable_server_names_the_address():
    with weir.Client(coordinator="127.0.0.1:1", store="127.0.0.1:1", timeout=2) as c:
        with pytest.raises(weir.UnavailableError, match="127.0.0.1:1"):
            c.get_online_features("v", ["k"])
        with pytest.raises(weir.UnavailableError, match="coordinator at 127.0.0.1:1"):
            c.jobs()
