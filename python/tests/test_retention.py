"""Retention on a real cluster: a job with `retention: 1h` (its view's
setting) has its rows whose window ended more than an hour ago (by the
store's clock) dropped and counted; the newer rows stay readable."""
from __future__ import annotations

import json
import re
import time

import pytest

import weir


def test_rows_past_retention_disappear_and_are_counted(cluster, client):
    now = int(time.time() * 1000) // 60000 * 60000
    old = [now - 3 * 3600_000 + i * 1000 for i in range(30)]  # windows that ended ~3 h ago
    new = [now - 600_000 + i * 1000 for i in range(30)]       # ~10 min ago
    records = [json.dumps({"user_id": f"r{i % 3}", "ts": t}) for i, t in enumerate(old + new)]
    cluster.produce(0, records, topic="txn_example")  # the example's topic: another job, another view
    spec = {
        "name": "retained", "key": "user_id", "view": "retained", "retention": "1h",
        "source": {"kafka": {"brokers": cluster.bootstrap, "topic": "txn_example", "start": "earliest"}},
        "event_time": {"field": "ts", "unit": "ms"}, "watermark": {"max_out_of_orderness": "1s"},
        "features": [{"name": "n", "agg": "count", "window": {"tumbling": "10s"}}],
        "sink": {"feature_store": cluster.store},
    }
    client.submit(spec)
    expected_new = [r for r in weir.replay(spec, records, flush=False, weirctl=cluster.weirctl)
                    if r["window_end"] >= now - 3600_000 and r["key"].startswith("r")]
    assert expected_new, "the new events make rows"
    deadline = time.monotonic() + 60
    while True:
        try:
            latest = client.get_online_features("retained", ["r0", "r1", "r2"])
            counted = re.search(r'weir_store_rows_expired_total\{view="retained"\} (\d+)',
                                cluster.metrics(cluster.store_metrics))
            if counted and all(latest[k]["n"] is not None for k in ("r0", "r1", "r2")):
                break
        except weir.NotFoundError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"no retention pass dropped rows of view retained within 60 s; logs: {cluster.logs()}")
        time.sleep(0.2)
    assert int(counted.group(1)) > 0
    # Old windows are gone: as of just after them, nothing; the new ones are all there.
    past = client.get_online_features("retained", ["r0", "r1", "r2"], ["n"], as_of=now - 2 * 3600_000)
    assert all(v["n"] is None for v in past.values()), past
    rows = client.get_online_features("retained", ["r0", "r1", "r2"]).rows
    assert all(r["window_end"] >= now - 3600_000 for r in rows)
    assert "retention: dropped" in cluster.logs()["store.log"]
    # Cancel: the job stops; its rows stay readable.
    assert client.cancel("retained")["state"] == "JOB_STATE_CANCELLED"
    assert client.status("retained")["state"] == "JOB_STATE_CANCELLED"
    assert "CLUSTER_EVENT_JOB_CANCELLED" in {e["kind"] for e in client.events(job="retained")}
    assert client.get_online_features("retained", ["r0"], ["n"])["r0"]["n"] is not None
