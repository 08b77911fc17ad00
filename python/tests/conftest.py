"""A real local Weir cluster for the SDK's tests: weir-devkafka (one broker,
topics `events` of 2
partitions and `txn_example` of 1), weir-featurestore, weir-coordinator and one
weir-worker, each a process on loopback ports it picked itself. The binaries
come from $WEIRCTL, $WEIR_DEVKAFKA, $WEIR_FEATURESTORE, $WEIR_COORDINATOR and
$WEIR_WORKER (tests/integration/python/python_test.sh sets them), or from
$WEIR_BUILD_DIR (default: the repository's build/)."""
from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

ROOT = Path(os.environ.get("WEIR_SOURCE_DIR") or Path(__file__).resolve().parents[2])


def _binary(env: str, relative: str) -> str:
    path = os.environ.get(env) or str(Path(os.environ.get("WEIR_BUILD_DIR", ROOT / "build")) / relative)
    if not os.access(path, os.X_OK):
        pytest.fail(f"{env}: no executable at {path} (build it, or set {env})")
    return path


class Cluster:
    """The processes of one cluster; `stop()` ends every one of them."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.procs: List[subprocess.Popen] = []
        self.weirctl = _binary("WEIRCTL", "cli/weirctl")
        self.bootstrap = self._start("devkafka", [_binary("WEIR_DEVKAFKA", "tools/weir-devkafka"), "--port", "0",
                                                  "--brokers", "1", "--topic", "events:2", "--topic", "txn_example:1"],
                                     "weir-devkafka bootstrap ")
        self.store = self._start("store", [_binary("WEIR_FEATURESTORE", "featurestore/weir-featurestore"),
                                           "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0",
                                           "--data-dir", str(tmp / "store"), "--retention-interval-ms", "200"],
                                 "weir-featurestore listening on ")
        self.store_metrics = self._line("store", "weir-featurestore metrics on ")
        self.coordinator = self._start("coordinator",
                                       [_binary("WEIR_COORDINATOR", "coordinator/weir-coordinator"), "--listen",
                                        "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--data-dir",
                                        str(tmp / "coordinator")], "weir-coordinator listening on ")
        self._start("w1", [_binary("WEIR_WORKER", "worker/weir-worker"), "--id", "w1", "--coordinator",
                           self.coordinator, "--metrics-listen", "127.0.0.1:0", "--data-dir", str(tmp / "w1")],
                    "weir-worker w1 metrics on ")

    def _start(self, name: str, argv: List[str], prefix: str) -> str:
        out = open(self.tmp / f"{name}.out", "w+")
        err = open(self.tmp / f"{name}.log", "w")
        self.procs.append(subprocess.Popen(argv, stdout=out, stderr=err))
        return self._line(name, prefix)

    def _line(self, name: str, prefix: str) -> str:
        """What follows `prefix` on the first line of NAME.out that has it."""
        proc = self.procs[-1]
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            for line in (self.tmp / f"{name}.out").read_text().splitlines():
                if line.startswith(prefix):
                    return line[len(prefix):].strip()
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited {proc.returncode}: {(self.tmp / f'{name}.log').read_text()}")
            time.sleep(0.05)
        raise RuntimeError(f"{name} printed no '{prefix}' line within 15 s")

    def produce(self, partition: int, records: List[str], topic: str = "events") -> None:
        """Writes records (JSON text) to one partition of `topic` with kcat."""
        subprocess.run(["kcat", "-b", self.bootstrap, "-P", "-t", topic, "-p", str(partition)],
                       input=("\n".join(records) + "\n").encode(), check=True, timeout=60)

    def metrics(self, address: str) -> str:
        """The Prometheus text of a daemon's HTTP status server."""
        import urllib.request

        with urllib.request.urlopen(f"http://{address}/metrics", timeout=10) as r:
            return r.read().decode()

    def logs(self) -> Dict[str, str]:
        return {p.name: p.read_text() for p in self.tmp.glob("*.log")}

    def stop(self) -> None:
        for p in reversed(self.procs):
            p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(tmp_path_factory.mktemp("cluster"))
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="session")
def client(cluster: Cluster):
    import weir

    with weir.Client(coordinator=cluster.coordinator, store=cluster.store, weirctl=cluster.weirctl) as c:
        yield c
