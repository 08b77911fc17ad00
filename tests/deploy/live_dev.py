"""The deploy test's live check: the dev overlay's containers run as
processes through the image's entrypoint, on loopback."""
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

from deploy_common import FAILURES, fail, run, yaml_to_json



def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveDev:
    """Runs the dev overlay's containers as processes, through the image's entrypoint."""

    def __init__(self, objects, containers, image, tmp):
        self.objects, self.image, self.tmp = objects, image, tmp
        self.containers = {c.workload["metadata"]["name"]: c for c in containers}
        self.services = {o["metadata"]["name"] for o in objects if o["kind"] == "Service"}
        ports = {p for c in containers for p in c.ports.values()}
        self.port_map = {p: free_port() for p in ports}
        self.bin = os.path.join(tmp, "bin")
        os.makedirs(self.bin)
        for name, path in image.binaries.items():
            os.symlink(path, os.path.join(self.bin, name))
        self.entrypoint = image.files[image.entrypoint[0]]
        self.procs = []

    def local(self, value):
        """A manifest value as it must read on loopback: ports mapped, Service names and pod IPs local, paths in tmp."""
        def address(m):
            host, port = m.group(1), int(m.group(2))
            if port in self.port_map and (host in self.services or host in ("0.0.0.0", "10.1.2.3", "127.0.0.1")):
                return f"127.0.0.1:{self.port_map[port]}"
            return m.group(0)
        value = re.sub(r"([\w.-]+):(\d+)", address, value)
        if value in self.services or value == "0.0.0.0":
            return "127.0.0.1"
        return re.sub(r"(?<![\w/])/(var/lib/weir|etc/weir)", lambda m: os.path.join(self.tmp, m.group(1)), value)

    def start(self, workload, extra_env=None, log_name=None):
        c = self.containers[workload]
        env = {"PATH": os.environ["PATH"], "WEIR_BIN_DIR": self.bin, **(extra_env or {})}
        for name, value in c.env.items():
            env[name] = self.local(value)
        for name, port in [(n, v) for n, v in env.items() if n.endswith("_PORT") and v.isdigit()]:
            env[name] = str(self.port_map.get(int(port), port))
        args = [self.local(a) for a in c.args]
        for m in c.spec.get("volumeMounts", []):
            os.makedirs(self.local(m["mountPath"]), exist_ok=True)
        log = open(os.path.join(self.tmp, f"{log_name or workload}.log"), "w")
        proc = subprocess.Popen(["bash", self.entrypoint, *args], env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        self.procs.append((proc, log_name or workload))
        return proc

    def probe(self, workload, deadline_s=20):
        """Waits for every probe of the workload's container to pass, as the kubelet would call it."""
        c = self.containers[workload]
        for kind in ("livenessProbe", "readinessProbe"):
            probe = c.spec.get(kind, {})
            http, tcp = probe.get("httpGet"), probe.get("tcpSocket")
            target = (http or tcp)["port"]
            port = self.port_map[c.port_number(target)]
            deadline = time.time() + deadline_s
            while True:
                try:
                    if http:
                        with urllib.request.urlopen(f"http://127.0.0.1:{port}{http['path']}", timeout=2) as r:
                            if r.status == 200:
                                break
                    else:
                        socket.create_connection(("127.0.0.1", port), timeout=2).close()
                        break
                except (OSError, urllib.error.URLError):
                    pass
                if time.time() > deadline:
                    return fail(f"live dev: {workload} {kind} {http['path'] if http else 'tcp'} on port "
                                f"{c.ports.get(target, target)} did not pass within {deadline_s} s\n{self.log(workload)}")
                time.sleep(0.2)
        print(f"live dev: {workload} probes pass")

    def log(self, name):
        try:
            return open(os.path.join(self.tmp, f"{name}.log")).read()[-3000:]
        except OSError:
            return ""

    def run_job(self, workload, log_name):
        proc = self.start(workload, log_name=log_name)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
        return proc.returncode, self.log(log_name)

    def weirctl(self, *args):
        env = {"PATH": os.environ["PATH"]}
        r = run([self.image.binaries["weirctl"], "--coordinator", f"127.0.0.1:{self.port_map[7071]}",
                 "--store", f"127.0.0.1:{self.port_map[7070]}", *args], env=env)
        return r.returncode, r.stdout + r.stderr

    def stop(self):
        for proc, name in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    fail(f"live dev: {name} did not stop within 30 s of SIGTERM")
                    continue
                if proc.returncode != 0 and name != "weir-loadgen":
                    fail(f"live dev: {name} exited {proc.returncode} on SIGTERM\n{self.log(name)}")


def proc_binary(proc):
    """The binary a process runs now (the entrypoint execs it)."""
    with open(f"/proc/{proc.pid}/cmdline", "rb") as f:
        return os.path.basename(f.read().split(b"\0")[0].decode())


def live_dev(objects, containers, image, source, tmp):
    dev = LiveDev(objects, containers, image, tmp)
    try:
        # The jobs ConfigMap, mounted where the submit Job reads it.
        jobs = next(o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "weir-jobs")
        submit = dev.containers["weir-submit-jobs"]
        mount = next(m["mountPath"] for m in submit.spec["volumeMounts"] if m["name"] == "jobs")
        os.makedirs(dev.local(mount), exist_ok=True)
        for file, text in jobs["data"].items():
            with open(os.path.join(dev.local(mount), file), "w") as f:
                f.write(dev.local(text))
        healthcheck = dev.image.files[dev.image.healthcheck[0]]
        for workload in ("weir-devkafka", "weir-featurestore", "weir-coordinator", "weir-worker"):
            proc = dev.start(workload)
            dev.probe(workload)
            # Docker's HEALTHCHECK, pointed at this process instead of PID 1.
            r = run(["bash", healthcheck], env={"PATH": os.environ["PATH"], "WEIR_HEALTHCHECK_PID": str(proc.pid)})
            if r.returncode != 0 or not r.stdout.startswith(f"healthy: {proc_binary(proc)}"):
                fail(f"live dev: the image's healthcheck fails for {workload}: {r.stdout}{r.stderr}")
        if FAILURES:
            return
        spec = yaml_to_json(source, os.path.join(dev.local(mount), next(iter(jobs["data"]))))
        for attempt in ("first", "again"):
            code, out = dev.run_job("weir-submit-jobs", f"submit-{attempt}")
            want = "submitted " if attempt == "first" else "not submitted: "
            if code != 0 or not out.startswith(want):
                return fail(f"live dev: the submit Job ({attempt} run) exited {code}: {out}")
            print(f"live dev: submit Job ({attempt} run): {out.strip()}")
        dev.start("weir-loadgen")
        deadline = time.time() + 40
        rows = 0
        while time.time() < deadline:
            code, out = dev.weirctl("status", spec["name"], "--json")
            if code == 0:
                info = json.loads(out)
                rows = sum(int(p.get("rowsOut", p.get("rows_out", 0)) or 0) for p in info.get("partitions", []))
                if rows > 0:
                    break
            time.sleep(1)
        code, out = dev.weirctl("features", "export", "--view", spec["view"])
        exported = len(out.splitlines()) if code == 0 else 0
        if rows == 0 or exported == 0:
            return fail(f"live dev: no feature rows reached the store within 40 s (status rows {rows}, "
                        f"export {exported}: {out[:300]})\n{dev.log('weir-worker')}")
        print(f"live dev: loadgen -> devkafka -> worker -> store: {rows} rows reported, {exported} exported")
    finally:
        dev.stop()


# --- main ------------------------------------------------------------------------------


