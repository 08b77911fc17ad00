"""The chaos suite's real Apache Kafka (chaos.py --kafka real): 3 KRaft nodes
from scripts/kafka.sh, the `events` topic with replication factor 3 and
min.insync.replicas=2, and the broker faults:

  kill-leader     kill -9 the node leading a random partition of `events`;
                  wait until another node leads it; start the node again and
                  wait until it is back in that partition's replicas' ISR
  stop-broker     SIGSTOP a node past its session timeout (the controller
                  fences it), then SIGCONT, and wait until it is back in the ISR
  restart-broker  SIGTERM a node (a controlled shutdown), start it again, and
                  wait until it is back in the ISR
"""
import json
import os
import signal
import subprocess
import time

BROKER_FAULTS = ["kill-leader", "stop-broker", "restart-broker"]
SESSION_TIMEOUT_S = 9  # broker.session.timeout.ms's default


class RealKafka:
    def __init__(self, root, work, partitions, fault_not_applied):
        self.script = os.path.join(root, "scripts", "kafka.sh")
        self.dir = os.path.join(work, "kafka")
        self.fault_not_applied = fault_not_applied
        started = time.time()
        subprocess.run([self.script, "start", "--brokers", "3", "--dir", self.dir], check=True,
                       stdout=subprocess.DEVNULL)
        self.start_seconds = time.time() - started
        self.env = self._read_env()
        self.bootstrap = self.env["KAFKA_BOOTSTRAP"]
        self.pids = [int(p) for p in self.env["KAFKA_PIDS"].split()]
        env = dict(os.environ, KAFKA_BOOTSTRAP=self.bootstrap, KAFKA_BROKERS="3")
        subprocess.run([self.script, "topic", "events", str(partitions), "3", "--config", "min.insync.replicas=2"],
                       check=True, env=env)
        self.wait_full_isr(60)

    def _read_env(self):
        env = {}
        with open(os.path.join(self.dir, "env")) as f:
            for line in f:
                k, _, v = line.strip().partition("=")
                env[k] = v.strip('"')
        return env

    def metadata(self, with_brokers=False):
        """{partition: (leader, isr)} of `events` (and the set of registered
        brokers' ids), or None when it cannot be read."""
        r = subprocess.run(["kcat", "-b", self.bootstrap, "-L", "-J", "-t", "events", "-m", "5"],
                           capture_output=True, timeout=30)
        if r.returncode != 0:
            return None
        try:
            md = json.loads(r.stdout)
            topic = md["topics"][0]
            parts = {p["partition"]: (p["leader"], {i["id"] for i in p.get("isrs", [])}) for p in topic["partitions"]}
            return (parts, {b["id"] for b in md["brokers"]}) if with_brokers else parts
        except (ValueError, KeyError, IndexError):
            return None

    def wait_full_isr(self, timeout):
        """Waits until all 3 nodes are registered and in the ISR of every
        partition of `events`, as two metadata reads in a row say."""
        deadline = time.time() + timeout
        good = 0
        while time.time() < deadline:
            md = self.metadata(with_brokers=True)
            good = good + 1 if md and len(md[1]) == 3 and all(len(isr) == 3 for _, isr in md[0].values()) else 0
            if good == 2:
                return time.time()
            time.sleep(0.5)
        raise self.fault_not_applied(f"the brokers' ISR did not return to 3 within {timeout} s: {self.metadata()}")

    def start_node(self, node):
        r = subprocess.run([self.script, "start-node", self.dir, str(node)], capture_output=True, text=True,
                           check=True)
        self.pids[node - 1] = int(r.stdout.strip())

    def inject(self, fault, rng, offsets):
        """Injects `fault`; waits for the full ISR again. `offsets()`: each
        partition's consumed offset as `weirctl status` says it. Returns the
        seconds from a leader's kill until its partition was read again (its
        offset moved), or None for the other faults."""
        recovery = None
        if fault == "kill-leader":
            md = self.metadata()
            if not md:
                raise self.fault_not_applied("the metadata of events could not be read")
            partition = rng.choice(sorted(md))
            leader = md[partition][0]
            before = offsets().get(partition, -1)
            os.kill(self.pids[leader - 1], signal.SIGKILL)
            killed = time.time()
            deadline = killed + 60
            while True:
                now = self.metadata()
                if now and now.get(partition, (leader,))[0] not in (leader, -1):
                    break
                if time.time() >= deadline:
                    raise self.fault_not_applied(f"partition {partition} had no new leader 60 s after node {leader} died")
                time.sleep(0.2)
            print(f"chaos:   node {leader} (leader of partition {partition}) killed; node {now[partition][0]} leads "
                  f"it {time.time() - killed:.2f} s later", flush=True)
            while offsets().get(partition, -1) <= before:
                if time.time() >= deadline + 30:
                    raise self.fault_not_applied(f"partition {partition} was not read again within 90 s of its "
                                                 f"leader's kill (offset {before})")
                time.sleep(0.1)
            recovery = time.time() - killed
            print(f"chaos:   partition {partition} read again {recovery:.2f} s after its leader's kill", flush=True)
            self.start_node(leader)
        elif fault == "stop-broker":
            node = rng.randrange(1, 4)
            os.kill(self.pids[node - 1], signal.SIGSTOP)
            try:
                time.sleep(SESSION_TIMEOUT_S + 2)
            finally:
                os.kill(self.pids[node - 1], signal.SIGCONT)
            print(f"chaos:   node {node} stopped {SESSION_TIMEOUT_S + 2} s, then continued", flush=True)
        elif fault == "restart-broker":
            node = rng.randrange(1, 4)
            pid = self.pids[node - 1]
            os.kill(pid, signal.SIGTERM)
            deadline = time.time() + 60
            while time.time() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                _reap(pid)
                time.sleep(0.2)
            else:
                raise self.fault_not_applied(f"node {node} did not stop within 60 s of SIGTERM")
            self.wait_unregistered(node, 30)
            self.start_node(node)
            print(f"chaos:   node {node} restarted", flush=True)
        else:
            raise ValueError(fault)
        back = time.time()
        self.wait_full_isr(120)
        print(f"chaos:   ISR full again after {time.time() - back:.2f} s", flush=True)
        return recovery

    def wait_unregistered(self, node, timeout):
        """Waits until the metadata no longer lists `node` (fenced or gone)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            md = self.metadata(with_brokers=True)
            if md and node not in md[1]:
                return
            time.sleep(0.2)
        raise self.fault_not_applied(f"node {node} was still registered {timeout} s after it stopped")

    def stop(self, keep=False):
        subprocess.run([self.script, "stop", "--dir", self.dir] + (["--keep"] if keep else []), check=False)


def _reap(pid):
    """Collects `pid` if it is our child that exited (kafka.sh's nodes are not)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
