"""examples/python/training_set.py end to end on the test cluster: it builds
its training set and finds rows a naive join would have leaked."""
from __future__ import annotations

import importlib.util

from conftest import ROOT


def test_training_set_example_counts_leaks(cluster, client, capsys):
    spec = importlib.util.spec_from_file_location("training_set", ROOT / "examples" / "python" / "training_set.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    counts = example.run(client, cluster.bootstrap, "txn_example")
    out = capsys.readouterr().out
    print(out)  # the example's own report, kept in the test log
    assert counts["rows"] == 2000
    assert counts["leaked"] > 0 and counts["unclosed"] > 0 and counts["corrected"] > 0, counts
    assert "would have leaked future information into" in out
