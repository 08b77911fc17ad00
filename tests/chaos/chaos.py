#!/usr/bin/env python3
"""The chaos suite: a keyed, out-of-order stream with late events runs
through weir-devkafka into a 3-worker cluster while faults are injected, one
per iteration, at random:

  kill-worker       kill -9 a worker, start it again a moment later
  zombie-worker     SIGSTOP a worker past the heartbeat timeout, then SIGCONT
  kill-coordinator  kill -9 the coordinator, restart it on its data directory
  broker-down       take a devkafka broker down, bring it up again
  restart-store     kill -9 the feature store, restart it on its data
  corrupt-snapshot  corrupt a partition's file in the newest committed
                    checkpoint, then kill -9 its owner: the next owner must
                    fall back to the previous checkpoint
  sigterm-worker    SIGTERM a worker (it hands its partitions off at their
                    snapshots), then start it again (it joins and takes some back)

Each fault waits (bounded) until its effect is observable: a kill's
partitions written again at a new epoch, a zombie's partitions moved, a broker
reported down and up, a corrupt snapshot reported unreadable by the next
owner. A fault that could not be applied, or whose effect is not seen, fails
its iteration and the run. Faults start once a first checkpoint is committed.

At the end the feature store's export must equal the failure-free reference,
`weirctl replay` of each partition's records, exactly: no missing rows, no
extra rows, identical values and revisions. It prints iterations and faults,
rows checked, mismatches, and recovery times (kill -9 of a worker to the
first new row of every partition it owned), then exits 0 only with zero
mismatches.

With --kafka real the stream runs through a real Apache Kafka instead
(tests/chaos/real_kafka.py: 3 brokers, replication factor 3,
min.insync.replicas=2), and broker-down gives way to its broker faults:
kill-leader, stop-broker and restart-broker.

  chaos.py --bin BUILD_DIR [--iterations N] [--seed S] [--rate EVENTS_PER_S] [--kafka devkafka|real]
"""
import argparse
import datetime
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from real_kafka import BROKER_FAULTS, RealKafka

# A whole partition dumped with kcat: weir-devkafka's mock cluster answers
# on one thread, and with a re-keyed job's extra producers and consumers it
# runs near a full core, so a dump can take minutes.
KCAT_DUMP_TIMEOUT = 300

FAULTS = ["kill-worker", "zombie-worker", "kill-coordinator", "broker-down", "restart-store", "sigterm-worker",
          "corrupt-snapshot"]


class FaultNotApplied(Exception):
    """A fault that could not be injected, or whose effect could not be
    seen: its iteration fails rather than passing having tested nothing."""


def wait_until(what, done, timeout, interval=0.1):
    """Polls `done` until it returns a true value, which it returns; raises
    FaultNotApplied naming `what` after `timeout` seconds."""
    deadline = time.time() + timeout
    while True:
        value = done()
        if value:
            return value
        if time.time() >= deadline:
            raise FaultNotApplied(f"{what} within {timeout:.0f} s")
        time.sleep(interval)


class Cluster:
    def __init__(self, bin_dir, work, partitions, workers, worker_timeout_ms, kafka="devkafka", rekey=False):
        self.rekey = rekey
        self.bin = bin_dir
        self.work = work
        self.logs = os.path.join(work, "logs")
        os.makedirs(self.logs)
        self.procs = {}
        self.log_files = {}
        self.worker_ids = [f"w{i + 1}" for i in range(workers)]
        self.worker_timeout_ms = worker_timeout_ms
        # Port 0 on the first start (the daemon binds a free port itself, no
        # probe-then-bind race); restarts reuse the address it printed, which
        # the workers and the job spec know.
        self.coordinator_addr = "127.0.0.1:0"
        self.store_addr = "127.0.0.1:0"
        self.worker_metrics = {}
        self.real_kafka = None
        self.keep = False  # keep the real Kafka's data and logs at the end (--keep)
        if kafka == "real":
            root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
            self.real_kafka = RealKafka(root, work, partitions, FaultNotApplied)
            self.kafka = self.real_kafka.bootstrap
            print(f"chaos: 3 Apache Kafka brokers up in {self.real_kafka.start_seconds:.1f} s", flush=True)
        else:
            self.kafka = self.start_devkafka(partitions)

    def binary(self, *parts):
        return os.path.join(self.bin, *parts)

    def spawn(self, name, args, wait_line=None):
        log = open(os.path.join(self.logs, name + ".log"), "ab")
        self.log_files[name] = log
        p = subprocess.Popen(args, stdout=subprocess.PIPE if wait_line else log, stderr=log)
        self.procs[name] = p
        value = None
        if wait_line:
            deadline = time.time() + 20
            while time.time() < deadline:
                line = p.stdout.readline().decode()
                if not line:
                    break
                if line.startswith(wait_line):
                    value = line[len(wait_line):].strip()
                    break
            if value is None:
                raise RuntimeError(f"{name} did not print '{wait_line}' (see {log.name})")
        return value

    def start_devkafka(self, partitions):
        # --rekey: the mock cluster cannot create topics; the re-keyed job's
        # repartition topic is made here.
        extra = ["--topic", f"weir.chaos-rekey.repartition:{partitions}"] if self.rekey else []
        return self.spawn("devkafka", [self.binary("tools", "weir-devkafka"), "--port", "0", "--brokers", "3",
                                       "--topic", f"events:{partitions}"] + extra, "weir-devkafka bootstrap ")

    def start_store(self):
        self.store_addr = self.spawn(
            "store", [self.binary("featurestore", "weir-featurestore"), "--listen", self.store_addr,
                      "--metrics-listen", "127.0.0.1:0", "--data-dir", os.path.join(self.work, "store")],
            "weir-featurestore listening on ")

    def start_coordinator(self):
        self.coordinator_addr = self.spawn(
            "coordinator", [self.binary("coordinator", "weir-coordinator"), "--listen", self.coordinator_addr,
                            "--metrics-listen", "127.0.0.1:0", "--data-dir", os.path.join(self.work, "coordinator"),
                            "--worker-timeout", str(self.worker_timeout_ms)],
            "weir-coordinator listening on ")

    def start_worker(self, wid):
        self.worker_metrics[wid] = self.spawn(
            wid, [self.binary("worker", "weir-worker"), "--id", wid, "--coordinator", self.coordinator_addr,
                  "--metrics-listen", "127.0.0.1:0", "--data-dir", os.path.join(self.work, wid)],
            f"weir-worker {wid} metrics on ")

    def worker_log(self):
        """Every worker's log so far, as text."""
        text = ""
        for wid in self.worker_ids:
            with open(os.path.join(self.logs, wid + ".log"), "rb") as f:
                text += f.read().decode(errors="replace")
        return text

    def kill9(self, name):
        p = self.procs[name]
        p.kill()
        p.wait()

    def signal(self, name, sig):
        self.procs[name].send_signal(sig)

    def weirctl(self, *args, check=True):
        r = subprocess.run([self.binary("cli", "weirctl"), "--coordinator", self.coordinator_addr, "--store",
                            self.store_addr, *args], capture_output=True, text=True, timeout=60)
        if check and r.returncode != 0:
            raise RuntimeError(f"weirctl {' '.join(args)}: {r.stderr.strip()}")
        return r

    def status(self, job):
        r = self.weirctl("status", job, "--json", check=False)
        return json.loads(r.stdout) if r.returncode == 0 else None

    def stop_all(self):
        if self.real_kafka:
            self.real_kafka.stop(keep=self.keep)
        for p in self.procs.values():
            if p.poll() is None:
                try:
                    p.send_signal(signal.SIGCONT)
                    p.kill()
                    p.wait(timeout=10)
                except Exception:
                    pass


def job_yaml(kafka, store, checkpoints, checkpoint_interval="2s", name="chaos", key="user_id", partitioned_by=None):
    by = f", partitioned_by: {partitioned_by}" if partitioned_by else ""
    return f"""name: {name}
source: {{ kafka: {{ brokers: "{kafka}", topic: events, start: earliest }}{by} }}
key: {key}
event_time: {{ field: ts }}
watermark: {{ max_out_of_orderness: 2s }}
allowed_lateness: 5s
view: {name.replace("-", "_")}
features:
  - {{ name: n_5s, agg: count, window: {{ tumbling: 5s }} }}
  - {{ name: amount_5s, agg: sum, field: amount, window: {{ tumbling: 5s }} }}
  - {{ name: n_10s_slide, agg: count, window: {{ sliding: {{ size: 10s, slide: 5s }} }} }}
  - {{ name: clicks_session, agg: count, window: {{ session: {{ gap: 3s }} }},
      where: [ {{ field: type, op: eq, value: click }} ] }}
  - {{ name: amount_p90, agg: percentile, p: 0.9, field: amount, window: {{ tumbling: 10s }} }}
sink: {{ feature_store: "{store}" }}
checkpoint: {{ interval: {checkpoint_interval}, storage: "file://{checkpoints}" }}
"""


def partition_rows(status):
    return {p["partition"]: p for p in status.get("partitions", [])}


def measure_recovery(cluster, owned_before, started, timeout=30):
    """Seconds from the kill until every partition in `owned_before`
    (partition -> epoch then) is owned at a higher epoch by a worker that has
    written a row (rows_out counts per epoch, from zero)."""
    deadline = started + timeout
    while time.time() < deadline:
        st = cluster.status("chaos")
        if st:
            parts = partition_rows(st)
            if all(int(parts.get(p, {}).get("epoch", 0)) > e and int(parts[p].get("rows_out", 0)) > 0
                   for p, e in owned_before.items()):
                # Status trails by a heartbeat: the workers' logs say when.
                at = first_rows_at(cluster, owned_before)
                return (at if at is not None else time.time()) - started
        time.sleep(0.05)
    return None


FIRST_ROWS = re.compile(rb"^(\S+) info \[worker\] job chaos partition (\d+): first rows written at epoch (\d+)$",
                        re.M)


def first_rows_at(cluster, owned_before):
    """From the workers' logs: when the last of the partitions in
    `owned_before` (partition -> epoch then) had its first rows written at a
    higher epoch (Unix seconds, the log's millisecond clock); None when a
    partition has no such line."""
    first = {}
    for name in os.listdir(cluster.logs):
        if not name.startswith("w"):
            continue
        with open(os.path.join(cluster.logs, name), "rb") as f:
            for at, partition, epoch in FIRST_ROWS.findall(f.read()):
                p, e = int(partition), int(epoch)
                if p in owned_before and e > owned_before[p]:
                    t = datetime.datetime.fromisoformat(at.decode()).timestamp()
                    first[p] = min(first.get(p, t), t)
    return max(first.values()) if len(first) == len(owned_before) else None


def latest_checkpoint(cluster):
    """The job's newest committed checkpoint id, 0 while there is none."""
    st = cluster.status("chaos")
    return int(st.get("latest_checkpoint", 0)) if st else 0


def committed_checkpoints(root):
    """Ids of the committed checkpoints (those with a _metadata) under `root`, oldest first."""
    names = os.listdir(root) if os.path.isdir(root) else []
    return sorted(int(d[4:]) for d in names
                  if d.startswith("chk-") and os.path.exists(os.path.join(root, d, "_metadata")))


def owned_partitions(cluster, victim):
    """partition -> epoch of every partition `victim` owns now."""
    st = wait_until("weirctl status kept failing, so the victim's partitions are unknown",
                    lambda: cluster.status("chaos"), timeout=10)
    return {p: int(s.get("epoch", 0)) for p, s in partition_rows(st).items() if s.get("owner") == victim}


def wait_moved(cluster, owned, timeout):
    """Waits until every partition of `owned` (partition -> epoch) has a newer epoch."""
    def moved():
        st = cluster.status("chaos")
        parts = partition_rows(st) if st else {}
        return all(int(parts.get(p, {}).get("epoch", 0)) > e for p, e in owned.items())
    wait_until(f"partitions {sorted(owned)} were not reassigned", moved, timeout)


def corrupt_snapshot(cluster, rng, work, args):
    """Kills the owner of a partition, truncates that partition's file in the
    newest committed checkpoint (and in any committed before the partition
    moves), and requires the next owner to log that it could not restore it."""
    def owners_now():
        st = cluster.status("chaos")
        return {p: s.get("owner") for p, s in partition_rows(st).items()
                if s.get("owner") in cluster.worker_ids} if st else {}
    owners = wait_until("no partition had an owner", owners_now, timeout=10)
    partition = rng.choice(sorted(owners))
    owner = owners[partition]
    owned = owned_partitions(cluster, owner)
    root = os.path.join(work, "checkpoints", "chaos")
    if not committed_checkpoints(root):
        raise FaultNotApplied("no committed checkpoint to corrupt")
    handoff = f"job chaos partition {partition}: restored the handoff snapshot"
    handoffs_before = cluster.worker_log().count(handoff)
    cluster.kill9(owner)
    truncated = set()

    def truncate_newest():
        chk = committed_checkpoints(root)[-1]
        if chk in truncated:
            return
        snaps = [f for f in os.listdir(os.path.join(root, f"chk-{chk}"))
                 if f.endswith(".snap") and f.startswith(f"p{partition}-")]
        if not snaps:
            raise FaultNotApplied(f"checkpoint {chk} has no snapshot of partition {partition}")
        for name in snaps:
            path = os.path.join(root, f"chk-{chk}", name)
            with open(path, "r+b") as f:
                f.truncate(os.path.getsize(path) // 2)
        truncated.add(chk)
        print(f"chaos:   truncated partition {partition}'s snapshot in checkpoint {chk}; its owner {owner} is "
              f"killed", flush=True)

    # A checkpoint the owner acknowledged before dying can still commit until
    # its partitions move: corrupt each newest one until then, so the next
    # owner's first restore point is a corrupt file.
    deadline = time.time() + args.worker_timeout_ms / 1000 + 30
    while True:
        truncate_newest()
        st = cluster.status("chaos")
        parts = partition_rows(st) if st else {}
        if int(parts.get(partition, {}).get("epoch", 0)) > owned[partition]:
            break
        if time.time() >= deadline:
            raise FaultNotApplied(f"partition {partition} was not reassigned after {owner} was killed")
        time.sleep(0.05)
    truncate_newest()
    # The next owner reads the corrupt file and falls back, unless a handoff
    # snapshot newer than every committed checkpoint (from an earlier
    # SIGTERM, while no checkpoint has committed since) takes precedence:
    # then the corrupt file is rightly never read, and the run says so.

    def outcome():
        log = cluster.worker_log()
        if any(f"job chaos partition {partition}: cannot restore checkpoint {c}:" in log for c in truncated):
            return "fallback"
        return "handoff" if log.count(handoff) > handoffs_before else None
    seen = wait_until(f"no worker logged that it could not restore partition {partition} from checkpoints "
                      f"{sorted(truncated)} (nor that a newer handoff snapshot took precedence)", outcome, timeout=30)
    if seen == "handoff":
        print(f"chaos:   partition {partition} restored a handoff snapshot newer than checkpoint "
              f"{max(truncated)}: the corrupt file was not read", flush=True)
    cluster.start_worker(owner)


def inject(cluster, fault, args, rng, work, recoveries):
    """Injects `fault` and waits until its effect is seen; raises
    FaultNotApplied when it could not be injected or had no effect."""
    timeout_s = args.worker_timeout_ms / 1000
    if fault == "kill-worker":
        victim = rng.choice(cluster.worker_ids)
        owned = owned_partitions(cluster, victim)
        cluster.kill9(victim)
        started = time.time()
        if owned:
            rec = measure_recovery(cluster, owned, started)
            if rec is None:
                raise FaultNotApplied(f"{victim}'s partitions {sorted(owned)} did not write again within 30 s")
            recoveries.setdefault(fault, []).append(rec)
            print(f"chaos:   {victim} owned partitions {sorted(owned)}; rows again after {rec:.2f} s", flush=True)
        else:
            print(f"chaos:   {victim} owned no partition", flush=True)
        cluster.start_worker(victim)  # a replacement with the same id joins
    elif fault == "zombie-worker":
        victim = rng.choice(cluster.worker_ids)
        owned = owned_partitions(cluster, victim)
        cluster.signal(victim, signal.SIGSTOP)
        try:
            if owned:  # declared dead: its partitions move while it is stopped
                wait_moved(cluster, owned, timeout_s + 30)
            else:
                time.sleep(timeout_s + 1.5)
        finally:
            cluster.signal(victim, signal.SIGCONT)
    elif fault == "kill-coordinator":
        cluster.kill9("coordinator")
        cluster.start_coordinator()
    elif fault == "broker-down":
        log = os.path.join(cluster.logs, "devkafka.log")

        def said(state):
            with open(log, "rb") as f:
                return len(re.findall(rb"weir-devkafka: broker \d+ " + state.encode() + rb"\n", f.read()))
        downs, ups = said("down"), said("up")
        cluster.signal("devkafka", signal.SIGUSR1)
        wait_until("weir-devkafka did not say a broker went down", lambda: said("down") > downs, timeout=10)
        time.sleep(3)  # the fault's length: clients see a broker gone
        cluster.signal("devkafka", signal.SIGUSR2)
        wait_until("weir-devkafka did not say the broker came back up", lambda: said("up") > ups, timeout=10)
    elif fault in BROKER_FAULTS:
        def offsets():
            st = cluster.status("chaos") or {}
            return {p: int(s.get("offset", -1)) for p, s in partition_rows(st).items()}
        rec = cluster.real_kafka.inject(fault, rng, offsets)
        if rec is not None:
            recoveries.setdefault(fault, []).append(rec)
    elif fault == "corrupt-snapshot":
        corrupt_snapshot(cluster, rng, work, args)
    elif fault == "sigterm-worker":
        victim = rng.choice(cluster.worker_ids)
        owned = owned_partitions(cluster, victim)
        cluster.signal(victim, signal.SIGTERM)
        started = time.time()
        try:
            code = cluster.procs[victim].wait(timeout=20)
        except subprocess.TimeoutExpired:
            raise FaultNotApplied(f"{victim} did not stop within 20 s of SIGTERM")
        if code != 0:
            raise FaultNotApplied(f"{victim} exited with {code} on SIGTERM")
        if owned:
            rec = measure_recovery(cluster, owned, started)
            if rec is None:
                raise FaultNotApplied(f"{victim}'s partitions {sorted(owned)} did not write again within 30 s")
            recoveries.setdefault(fault, []).append(rec)
            print(f"chaos:   {victim} handed off partitions {sorted(owned)}; rows again after {rec:.2f} s", flush=True)
        cluster.start_worker(victim)
    elif fault == "restart-store":
        cluster.kill9("store")
        cluster.start_store()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True, help="build directory with the Weir binaries")
    ap.add_argument("--iterations", type=int, default=5)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--rate", type=int, default=800, help="events per second")
    ap.add_argument("--partitions", type=int, default=8)
    ap.add_argument("--checkpoint-interval", default="2s",
                    help="the job's checkpoint interval (a duration such as 10s, the engine's default)")
    ap.add_argument("--interval", type=float, default=5.0, help="seconds between faults")
    ap.add_argument("--worker-timeout-ms", type=int, default=3000)
    ap.add_argument("--kafka", choices=["devkafka", "real"], default="devkafka",
                    help="weir-devkafka (default), or a real Apache Kafka cluster (scripts/kafka.sh)")
    ap.add_argument("--faults", default=None,
                    help="comma-separated faults to choose from (default: all of the chosen Kafka's)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs) afterwards")
    ap.add_argument("--rekey", action="store_true",
                    help="also run a re-keyed job (key merchant, partitioned_by user_id) through the same faults and "
                         "check its rows against weirctl replay --rekeyed of its repartition topic")
    args = ap.parse_args()
    known = FAULTS if args.kafka == "devkafka" else [f for f in FAULTS if f != "broker-down"] + BROKER_FAULTS
    args.faults = args.faults or ",".join(known)
    unknown = [f for f in args.faults.split(",") if f not in known]
    if unknown:
        ap.error(f"--faults: unknown with --kafka {args.kafka}: {', '.join(unknown)} (known: {', '.join(known)})")
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    work = tempfile.mkdtemp(prefix="weir-chaos-")
    print(f"chaos: seed {seed}, {args.iterations} iterations, work dir {work}", flush=True)
    ok = False
    cluster = None
    try:
        cluster = Cluster(args.bin, work, args.partitions, 3, args.worker_timeout_ms, args.kafka, args.rekey)
        cluster.keep = args.keep
        ok = run(cluster, args, rng, work)
    finally:
        if cluster:
            cluster.stop_all()
        if ok and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"chaos: logs kept in {work}/logs", flush=True)
    return 0 if ok else 1


def check_rekeyed(cluster, args, work, expected_end, job_path):
    """The re-keyed job's rows and weirctl replay --rekeyed of its repartition
    topic, once stage 1 has re-keyed every record and stage 2 read all of it."""
    sources = args.partitions

    def stage1_done():
        st = cluster.status("chaos-rekey")
        return st is not None and all(
            int(s.get("offset", -1)) >= expected_end.get(p, 0)
            for p, s in partition_rows(st).items() if p < sources)
    try:
        wait_until("stage 1 of the re-keyed job did not catch up", stage1_done, timeout=120)
    except FaultNotApplied as e:
        print(f"chaos: {e}", flush=True)
        return None, None
    time.sleep(1.0)  # stage 1's last messages and markers acknowledged
    ends = {}
    reference = []
    topic = "weir.chaos-rekey.repartition"
    for q in range(args.partitions):
        r = subprocess.run(["kcat", "-b", cluster.kafka, "-C", "-t", topic, "-p", str(q), "-o", "beginning", "-e",
                            "-q", "-f", "%o\t%h\t%s\n"], capture_output=True, timeout=KCAT_DUMP_TIMEOUT)
        if r.returncode != 0:
            print(f"chaos: kcat could not read {topic} partition {q}: {r.stderr.decode()}", flush=True)
            return None, None
        lines = r.stdout.split(b"\n")[:-1]
        ends[sources + q] = int(lines[-1].split(b"\t", 1)[0]) + 1 if lines else 0
        dump = os.path.join(work, f"r{q}.tsv")
        with open(dump, "wb") as f:
            f.write(b"".join(line.split(b"\t", 1)[1] + b"\n" for line in lines))
        r = subprocess.run([cluster.binary("cli", "weirctl"), "replay", "--job", job_path, "--rekeyed", str(sources),
                            "--input", dump, "-q"], capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            print(f"chaos: replay of {topic} partition {q} failed: {r.stderr}", flush=True)
            return None, None
        reference.extend(line for line in r.stdout.splitlines() if line)
    reference.sort()
    deadline = time.time() + 120
    export = []
    while time.time() < deadline:
        st = cluster.status("chaos-rekey")
        caught_up = st is not None and all(
            int(s.get("offset", -1)) >= ends.get(p, 0) for p, s in partition_rows(st).items() if p >= sources)
        if caught_up:
            r = cluster.weirctl("features", "export", "--view", "chaos_rekey", check=False)
            export = sorted(line for line in r.stdout.splitlines() if line)
            if export == reference:
                break
        time.sleep(0.5)
    return reference, export


def run(cluster, args, rng, work):
    cluster.start_store()
    cluster.start_coordinator()
    for w in cluster.worker_ids:
        cluster.start_worker(w)
    checkpoints = os.path.join(work, "checkpoints")
    job_path = os.path.join(work, "job.yaml")
    with open(job_path, "w") as f:
        f.write(job_yaml(cluster.kafka, cluster.store_addr, checkpoints, args.checkpoint_interval))
    cluster.weirctl("submit", job_path)
    rekey_path = os.path.join(work, "rekey.yaml")
    if args.rekey:
        with open(rekey_path, "w") as f:
            f.write(job_yaml(cluster.kafka, cluster.store_addr, checkpoints, args.checkpoint_interval, "chaos-rekey",
                             "merchant", "user_id"))
        cluster.weirctl("submit", rekey_path)

    # The stream outlasts the faults: a real broker's fault (a failover, the
    # ISR refilling) takes 15-30 s, not the interval; a partition with no new
    # records after its recovery would write no row to time.
    per_fault = args.interval + (30 if args.kafka == "real" else 0)
    duration = args.iterations * per_fault + 2
    count = int(args.rate * duration)
    # Event time runs 10x wall time (10 ms of event time per event at 1000/s),
    # so 5 s windows close every half second; 2% of events are 8 s late
    # (corrections or late dead letters), the rest up to 2 s out of order.
    loadgen = subprocess.Popen(
        [cluster.binary("tools", "weir-loadgen"), "--brokers", cluster.kafka, "--topic", "events", "--rate",
         str(args.rate), "--count", str(count), "--keys", "200", "--disorder", "2s", "--late-fraction", "0.02",
         "--late-by", "8s", "--event-step-ms", str(max(1, 10000 // args.rate)), "--start-ms", "1700000000000",
         "--seed", str(rng.randrange(1 << 30)),
         # A real broker's failover (a stopped node's connections time out) can outlast the default 30 s.
         "--flush-timeout-ms", "180000"],
        stdout=subprocess.DEVNULL, stderr=open(os.path.join(cluster.logs, "loadgen.log"), "wb"))

    faults_allowed = args.faults.split(",")
    faults = {f: 0 for f in faults_allowed}
    recoveries = {}  # fault -> seconds until the affected partitions were processed again
    try:
        # Faults start once a checkpoint is committed: before it,
        # corrupt-snapshot has nothing to corrupt and a restore nothing to read.
        first = wait_until("no checkpoint of the job was committed",
                           lambda: latest_checkpoint(cluster), timeout=60)
        print(f"chaos: checkpoint {first} committed; injecting faults", flush=True)
    except FaultNotApplied as e:
        print(f"chaos: {e}", flush=True)
        return False
    for i in range(args.iterations):
        fault = rng.choice(faults_allowed)
        faults[fault] += 1
        t0 = time.time()
        print(f"chaos: iteration {i + 1}: {fault}", flush=True)
        try:
            inject(cluster, fault, args, rng, work, recoveries)
        except FaultNotApplied as e:
            print(f"chaos: iteration {i + 1} FAILED: {fault} was not applied: {e}", flush=True)
            return False
        time.sleep(max(0.0, args.interval - (time.time() - t0)))

    if loadgen.wait(timeout=duration * 3 + 60) != 0:
        print("chaos: weir-loadgen failed (see its log)", flush=True)
        return False

    # Settle: every partition caught up and the rows stable.
    expected_end = {}
    for p in range(args.partitions):
        r = subprocess.run(["kcat", "-b", cluster.kafka, "-C", "-t", "events", "-p", str(p), "-o", "beginning", "-e",
                            "-f", "%s\n"], capture_output=True, timeout=KCAT_DUMP_TIMEOUT)
        if r.returncode != 0:
            print(f"chaos: kcat could not read partition {p}: {r.stderr.decode()}", flush=True)
            return False
        with open(os.path.join(work, f"p{p}.jsonl"), "wb") as f:
            f.write(r.stdout)
        expected_end[p] = r.stdout.count(b"\n")
    reference = []
    for p in range(args.partitions):
        r = subprocess.run([cluster.binary("cli", "weirctl"), "replay", "--job", job_path, "--input",
                            os.path.join(work, f"p{p}.jsonl"), "--partition", str(p), "-q"],
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            print(f"chaos: replay of partition {p} failed: {r.stderr}", flush=True)
            return False
        reference.extend(line for line in r.stdout.splitlines() if line)
    reference.sort()

    deadline = time.time() + 120
    export = []
    while time.time() < deadline:
        st = cluster.status("chaos")
        caught_up = st is not None and all(
            int(s.get("offset", -1)) >= expected_end.get(p, 0) for p, s in partition_rows(st).items())
        if caught_up:
            r = cluster.weirctl("features", "export", "--view", "chaos", check=False)
            export = sorted(line for line in r.stdout.splitlines() if line)
            if export == reference:
                break
        time.sleep(0.5)
    missing = sorted(set(reference) - set(export))
    extra = sorted(set(export) - set(reference))
    if args.rekey:
        rekey_reference, rekey_export = check_rekeyed(cluster, args, work, expected_end, rekey_path)
        if rekey_reference is None:
            return False
        print(f"chaos: re-keyed job: rows checked {len(rekey_reference)}", flush=True)
        missing += sorted(set(rekey_reference) - set(rekey_export))
        extra += sorted(set(rekey_export) - set(rekey_reference))
        reference += rekey_reference
    mismatches = len(missing) + len(extra)
    print(f"chaos: iterations {args.iterations}; faults injected: " +
          ", ".join(f"{k} {v}" for k, v in faults.items()), flush=True)
    print(f"chaos: rows checked {len(reference)}; mismatches {mismatches} "
          f"({len(missing)} missing, {len(extra)} extra)", flush=True)
    what = {"kill-worker": "kill -9 of a worker to the first new row of each moved partition",
            "sigterm-worker": "SIGTERM of a worker to the first new row of each partition it handed off",
            "kill-leader": "kill -9 of a partition's leader broker to the partition read again"}
    for fault, times in sorted(recoveries.items()):
        print(f"chaos: recovery, {fault} ({what[fault]}): p50 {statistics.median(times):.2f} s, "
              f"max {max(times):.2f} s over {len(times)}", flush=True)
    if not recoveries:
        print("chaos: recovery: no fault in this run is timed", flush=True)
    for line in missing[:5]:
        print(f"chaos:   missing {line}", flush=True)
    for line in extra[:5]:
        print(f"chaos:   extra   {line}", flush=True)
    return mismatches == 0 and len(reference) > 0


if __name__ == "__main__":
    sys.exit(main())
