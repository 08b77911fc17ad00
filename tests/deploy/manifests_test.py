#!/usr/bin/env python3
"""Cross-checks deploy/ against the binaries this build made, offline.

Static checks, for each overlay as deploy/tools/kustomize.mjs renders it:
  - every container runs a role the image's entrypoint knows, and every flag
    and WEIR_* variable it passes (args, env, envFrom ConfigMaps) is one that
    role's binary accepts (its --help);
  - container ports match the listen flags (port and an address other pods can
    reach), probes hit /healthz and /readyz (or the Kafka port) on the served
    port, Prometheus annotations name the metrics port, Services target
    declared ports, addresses such as weir-coordinator:7071 name a Service of
    the overlay on the right port, and the job specs' sink, brokers and
    checkpoint storage agree with the Services and volumes;
  - the Dockerfile copies only files that exist (sources from the repository,
    binaries from the build tree), copies every binary the entrypoint runs,
    runs as the uid the manifests expect, and installs a package for every
    shared library the binaries load.
Live check: the dev overlay's containers (weir-devkafka, store, coordinator, a
worker, the submit Job, the load generator) run through the real entrypoint on
loopback, with ports and paths mapped; every probe must answer, the submit Job
must submit the example job, and feature rows must reach the store.

  manifests_test.py --source DIR --bin BUILD_DIR
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

FAILURES = []
DAEMON_ROLES = {"coordinator", "worker", "featurestore", "devkafka"}
HTTP_ROLES = {"coordinator", "worker", "featurestore"}


def fail(message):
    FAILURES.append(message)
    print(f"FAIL: {message}", file=sys.stderr)


def run(cmd, **kwargs):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, **kwargs)


# --- the repository's files ------------------------------------------------------------


def render(source, overlay):
    r = run(["node", os.path.join(source, "deploy/tools/kustomize.mjs"), overlay, "--json"])
    if r.returncode != 0:
        sys.exit(f"FAIL: cannot render {overlay}: {r.stderr.strip()} (did scripts/setup.sh run npm ci in deploy/tools?)")
    return json.loads(r.stdout)


def yaml_to_json(source, path):
    r = run(["node", os.path.join(source, "deploy/tools/yaml2json.mjs"), path])
    if r.returncode != 0:
        sys.exit(f"FAIL: cannot parse {path}: {r.stderr.strip()}")
    return json.loads(r.stdout)


def dockerfile_stages(path):
    """[(image, alias, [(INSTRUCTION, rest)])] with continuations joined and comments dropped."""
    lines, current = [], ""
    with open(path) as f:
        for raw in f:
            line = raw.rstrip("\n")
            if not current and (not line.strip() or line.lstrip().startswith("#")):
                continue
            if line.endswith("\\"):
                current += line[:-1] + " "
                continue
            lines.append(current + line)
            current = ""
    stages = []
    for line in lines:
        word, _, rest = line.strip().partition(" ")
        word = word.upper()
        if word == "FROM":
            m = re.match(r"(\S+)(?:\s+AS\s+(\S+))?", rest.strip(), re.IGNORECASE)
            stages.append((m.group(1), m.group(2), []))
        elif stages:
            stages[-1][2].append((word, rest.strip()))
    return stages


def apt_installs(steps):
    """The packages a stage's RUN ... apt-get install ... lines install."""
    packages = set()
    for word, rest in steps:
        if word == "RUN" and "apt-get install" in rest:
            packages |= {w for w in rest.split("apt-get install", 1)[1].split("&&")[0].split() if not w.startswith("-")}
    return packages


def exec_form(rest):
    rest = rest.strip()
    return json.loads(rest) if rest.startswith("[") else rest.split()


# --- the binaries ----------------------------------------------------------------------


class Help:
    """A CLI11 --help: its options (takes a value? default) and their WEIR_* variables."""

    OPTION = re.compile(r"^\s+(?:-\w,)?(--[a-z0-9-]+)(.*)$")
    TYPE = re.compile(r"^\s+((?:TEXT|INT|UINT|FLOAT|BOOLEAN|ENUM)\S*(?: in \[[^\]]*\]\S*)?)")

    def __init__(self, text):
        self.text = text
        self.options = {}  # --name -> (takes_value, default or None)
        self.env = {}  # WEIR_X -> --name
        self.subcommands = set()
        in_subcommands = False
        for line in text.splitlines():
            if line.startswith("Subcommands:"):
                in_subcommands = True
                continue
            if in_subcommands:
                m = re.match(r"^\s{2}(\w[\w-]*)\s", line)
                if m:
                    self.subcommands.add(m.group(1))
                continue
            m = self.OPTION.match(line)
            if not m:
                continue
            name, rest = m.group(1), m.group(2)
            t = self.TYPE.match(rest)
            default = None
            if t and "=" in t.group(1).split("]")[-1]:
                default = t.group(1).split("]")[-1].split("=", 1)[1]
            self.options[name] = (t is not None, default)
            env = re.search(r"\(Env:(\w+)\)", rest)
            if env:
                self.env[env.group(1)] = name


def help_of(binary, subcommands=()):
    r = run([binary, *subcommands, "--help"])
    if r.returncode != 0:
        sys.exit(f"FAIL: {binary} {' '.join(subcommands)} --help exited {r.returncode}: {r.stderr}")
    return Help(r.stdout)


class Image:
    """What the Dockerfile puts in the runtime image, checked against the repository and build tree."""

    def __init__(self, source, bindir):
        self.source, self.bindir = source, bindir
        self.dockerfile = os.path.join(source, "deploy/docker/Dockerfile")
        self.stages = dockerfile_stages(self.dockerfile)
        self.binaries = {}  # /usr/local/bin name -> build tree path
        self.files = {}  # image path -> repository path
        self.entrypoint = None
        self.user = None
        self.healthcheck = None
        self.runtime_packages = apt_installs(self.stages[-1][2]) if self.stages else set()
        self.check()

    def check(self):
        if len(self.stages) < 2:
            return fail("Dockerfile: expected a build stage and a runtime stage")
        build_image, build_alias, build_steps = self.stages[0]
        runtime_image, _, steps = self.stages[-1]
        if not build_image.startswith("debian:bookworm"):
            fail(f"Dockerfile: the build stage is {build_image}, not Debian bookworm")
        if runtime_image != "debian:bookworm-slim":
            fail(f"Dockerfile: the runtime stage is {runtime_image}, not debian:bookworm-slim")
        workdir = "/"
        for word, rest in build_steps:
            if word == "WORKDIR":
                workdir = rest
            if word == "COPY":
                *srcs, _ = exec_form(rest)
                for src in srcs:
                    if not os.path.exists(os.path.join(self.source, src)):
                        fail(f"Dockerfile: build stage copies {src}, which is not in the repository")
        for word, rest in steps:
            if word == "COPY":
                parts = exec_form(rest)
                stage = None
                if parts[0].startswith("--from="):
                    stage = parts.pop(0)[len("--from="):]
                *srcs, dest = parts
                for src in srcs:
                    if stage is not None:
                        if stage != build_alias:
                            fail(f"Dockerfile: COPY --from={stage}: no such stage")
                            continue
                        build_root = os.path.join(workdir, "build") + "/"
                        if not src.startswith(build_root):
                            fail(f"Dockerfile: {src} is not in the build stage's {build_root}")
                            continue
                        built = os.path.join(self.bindir, src[len(build_root):])
                        if not os.access(built, os.X_OK):
                            fail(f"Dockerfile: copies {src}, but this build has no {built}")
                        if dest.startswith("/usr/local/bin/"):
                            self.binaries[os.path.basename(dest)] = built
                    else:
                        if not os.path.exists(os.path.join(self.source, src)):
                            fail(f"Dockerfile: copies {src}, which is not in the repository")
                        self.files[dest] = os.path.join(self.source, src)
            elif word == "USER":
                self.user = rest
            elif word == "ENTRYPOINT":
                self.entrypoint = exec_form(rest)
            elif word == "HEALTHCHECK":
                m = re.search(r"CMD\s+(.*)$", rest)
                self.healthcheck = exec_form(m.group(1)) if m else None
        if self.entrypoint is None or self.entrypoint[0] not in self.files:
            fail(f"Dockerfile: ENTRYPOINT {self.entrypoint} is not a file the image copies")
        if self.healthcheck is None or self.healthcheck[0] not in self.files:
            fail(f"Dockerfile: HEALTHCHECK {self.healthcheck} is not a file the image copies")
        uid = (self.user or "0").split(":")[0]
        if not uid.isdigit() or int(uid) == 0:
            fail(f"Dockerfile: USER {self.user}: the image must run as a numeric non-root uid")
        self.uid = int(uid) if uid.isdigit() else None
        self.check_build_packages(build_steps)

    def check_build_packages(self, build_steps):
        """The build stage installs only packages setup.sh installs (the tested set), and all libraries."""
        setup = open(os.path.join(self.source, "scripts/setup.sh")).read()
        tested = set(re.search(r"PACKAGES=\(([^)]*)\)", setup).group(1).split())
        wanted = apt_installs(build_steps)
        for p in sorted(wanted - tested):
            fail(f"Dockerfile: the build stage installs {p}, which scripts/setup.sh (the tested set) does not")
        test_only = {"catch2", "libbenchmark-dev", "libclang-rt-14-dev"}  # tests, benchmarks, fuzzing
        for p in sorted(p for p in tested if p.endswith("-dev") and p not in test_only and p not in wanted):
            fail(f"Dockerfile: the build stage lacks {p}, which scripts/setup.sh installs to build")

    def check_runtime_libraries(self):
        """Every shared library a binary loads comes from a package the runtime stage installs."""
        in_slim = {"libc6", "libgcc-s1", "libstdc++6"}  # bookworm-slim's own (essential) packages
        owners = {}
        for name, path in sorted(self.binaries.items()):
            r = run(["ldd", path])
            for lib in re.findall(r"=>\s+(/\S+)", r.stdout):
                if lib not in owners:
                    owners[lib] = package_of(lib)
                pkg = owners[lib]
                if pkg is None:
                    fail(f"{name} loads {lib}, which no Debian package owns")
                elif pkg not in self.runtime_packages and pkg not in in_slim:
                    fail(f"Dockerfile: {name} loads {lib} from {pkg}, which the runtime stage does not install")
        print(f"image: {len(self.binaries)} binaries load {len(owners)} libraries, all from installed packages"
              if not FAILURES else "image: library check done")


def package_of(lib):
    for candidate in (lib, "/usr" + lib, os.path.realpath(lib)):
        r = run(["dpkg", "-S", candidate])
        if r.returncode == 0:
            return r.stdout.split(":")[0].split(",")[0].strip()
    return None


class Entrypoint:
    """The image's entrypoint, run for real over stub binaries: which binary a role runs, with which env."""

    def __init__(self, image, tmp):
        self.script = image.files.get(image.entrypoint[0]) if image.entrypoint else None
        self.stubs = os.path.join(tmp, "stubs")
        os.makedirs(self.stubs)
        for name in image.binaries:
            stub = os.path.join(self.stubs, name)
            with open(stub, "w") as f:
                f.write('#!/bin/sh\necho "BINARY $(basename "$0")"\nenv\n')
            os.chmod(stub, 0o755)
        self.cache = {}

    def resolve(self, role, env=None):
        """(binary name, {WEIR_*: value} the entrypoint sets), or None for an unknown role."""
        if self.script is None:
            return None
        key = (role, tuple(sorted((env or {}).items())))
        if key not in self.cache:
            r = run(["bash", self.script, role], env={"PATH": os.environ["PATH"], "WEIR_BIN_DIR": self.stubs,
                                                      **(env or {})})
            if r.returncode != 0 or not r.stdout.startswith("BINARY "):
                self.cache[key] = None
            else:
                lines = r.stdout.splitlines()
                defaults = dict(line.split("=", 1) for line in lines[1:] if line.startswith("WEIR_") and "=" in line)
                defaults = {k: v for k, v in defaults.items() if k not in (env or {}) and k != "WEIR_BIN_DIR"}
                self.cache[key] = (lines[0].split()[1], defaults)
        return self.cache[key]


# --- the manifests ---------------------------------------------------------------------


def pod_templates(objects):
    """(workload, pod template) of every Deployment, StatefulSet, Job and CronJob."""
    for o in objects:
        spec = o.get("spec", {})
        if o["kind"] in ("Deployment", "StatefulSet", "Job", "DaemonSet"):
            yield o, spec["template"]
        elif o["kind"] == "CronJob":
            yield o, spec["jobTemplate"]["spec"]["template"]


def selects(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def split_address(value):
    host, _, port = (value or "").rpartition(":")
    return host, int(port) if port.isdigit() else None


class Container:
    """One container of the rendered manifests, with the settings its binary ends up with."""

    def __init__(self, overlay, workload, template, spec, objects, image, entrypoint, helps):
        self.overlay, self.workload, self.template, self.spec = overlay, workload, template, spec
        self.name = f"{overlay} {workload['kind']}/{workload['metadata']['name']} container {spec['name']}"
        self.args = list(spec.get("args", []))
        self.role = self.args[0] if self.args else None
        self.ports = {p.get("name"): p["containerPort"] for p in spec.get("ports", [])}
        self.env = {}
        self.binary = None
        configmaps = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ConfigMap"}
        if "command" in spec:
            fail(f"{self.name}: sets command, bypassing the image's entrypoint")
        if not spec.get("image", "").split("/")[-1].startswith("weir"):
            fail(f"{self.name}: image {spec.get('image')} is not Weir's")
        for source in spec.get("envFrom", []):
            ref = source.get("configMapRef", {}).get("name")
            if ref not in configmaps:
                fail(f"{self.name}: envFrom names ConfigMap {ref}, which the overlay does not define")
                continue
            self.env.update(configmaps[ref].get("data", {}))
        self.downward = set()
        for e in spec.get("env", []):
            if "value" in e:
                self.env[e["name"]] = re.sub(r"\$\((\w+)\)", lambda m: self.env.get(m.group(1), m.group(0)),
                                             e["value"])
            else:
                field = e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
                self.env[e["name"]] = {"metadata.name": f"{workload['metadata']['name']}-0",
                                       "status.podIP": "10.1.2.3"}.get(field, f"<{field}>")
                self.downward.add(e["name"])
        resolved = entrypoint.resolve(self.role, dict(self.env)) if self.role else None
        if resolved is None:
            fail(f"{self.name}: args[0] \"{self.role}\" is not a role of the image's entrypoint")
            return
        self.binary, self.entry_defaults = resolved
        self.subcommands = []
        self.help = helps(self.binary)
        self.check_flags(helps)
        self.check_env(spec)

    def check_flags(self, helps):
        """Every --flag in args is one the binary (or its subcommand) accepts; values are taken as it would."""
        self.flags = {}
        helpers = [self.help]
        args = self.args[1:]
        i = 0
        while i < len(args):
            a = args[i]
            if a.startswith("--"):
                name, eq, value = a.partition("=")
                known = next((h for h in reversed(helpers) if name in h.options), None)
                if known is None:
                    fail(f"{self.name}: {' '.join([self.binary, *self.subcommands])} has no flag {name}")
                    i += 1
                    continue
                takes_value = known.options[name][0]
                if takes_value and not eq:
                    i += 1
                    value = args[i] if i < len(args) else None
                    if value is None:
                        fail(f"{self.name}: {name} needs a value")
                self.flags[name] = value if takes_value else True
            elif a in helpers[-1].subcommands:
                self.subcommands.append(a)
                helpers.append(helps(self.binary, tuple(self.subcommands)))
            i += 1

    def check_env(self, spec):
        for name in self.env:
            if name.startswith("WEIR_"):
                if name not in self.help.env:
                    fail(f"{self.name}: {self.binary} has no setting {name} (its --help lists "
                         f"{', '.join(sorted(self.help.env))})")
            elif not any(f"$({name})" in e.get("value", "") for e in spec.get("env", [])):
                fail(f"{self.name}: env {name} is neither a WEIR_* setting nor used by one")
        for name in self.entry_defaults:
            if name not in self.help.env:
                fail(f"entrypoint: role {self.role} sets {name}, which {self.binary} does not read")

    def port_number(self, port):
        """A probe's or Service's port, by name or number, as a number."""
        return self.ports.get(port) if isinstance(port, str) else port

    def env_name(self, flag):
        """The WEIR_* variable the binary reads --flag from, if any."""
        return next((k for k, v in self.help.env.items() if v == flag), None)

    def set_by_manifest(self, flag):
        return flag in self.flags or self.env_name(flag) in self.env

    def setting(self, flag):
        """The value the binary uses for --flag: command line, else env, else entrypoint default, else its default."""
        if flag in self.flags:
            return self.flags[flag]
        env = self.env_name(flag)
        if env in self.env:
            return self.env[env]
        if env in self.entry_defaults:
            return self.entry_defaults[env]
        return self.help.options.get(flag, (False, None))[1]


def check_listen(c, flag, port_name, listens):
    """The address `flag` serves is the containerPort `port_name`, on every interface; returns its port."""
    host, port = split_address(c.setting(flag))
    listens[port] = flag
    if c.ports.get(port_name) != port:
        fail(f"{c.name}: containerPort \"{port_name}\" is {c.ports.get(port_name)}, {flag} serves {port}")
    if host not in ("0.0.0.0", "", "[::]"):
        fail(f"{c.name}: {flag} {host}:{port} is not reachable from other pods, the kubelet or Prometheus")
    return port


def check_container(c, objects, uid):
    spec, pod = c.spec, c.template["spec"]
    security = pod.get("securityContext", {})
    if not security.get("runAsNonRoot") or security.get("runAsUser") != uid:
        fail(f"{c.name}: the pod must run as non-root uid {uid} (the image's USER)")
    if not spec.get("resources", {}).get("requests") or not spec.get("resources", {}).get("limits"):
        fail(f"{c.name}: needs resource requests and limits")
    listens = {}  # container port -> what serves it
    if c.role in HTTP_ROLES:
        port = check_listen(c, "--metrics-listen", "metrics", listens)
        annotations = c.template.get("metadata", {}).get("annotations", {})
        if annotations.get("prometheus.io/scrape") != "true" or annotations.get("prometheus.io/port") != str(port) \
                or annotations.get("prometheus.io/path", "/metrics") != "/metrics":
            fail(f"{c.name}: Prometheus annotations must scrape /metrics on port {port}: {annotations}")
        for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            get = spec.get(probe, {}).get("httpGet")
            target = get and c.port_number(get["port"])
            if not get or get.get("path") != path or target != port:
                fail(f"{c.name}: {probe} must GET {path} on the metrics port {port}, has {spec.get(probe)}")
    if c.role in ("coordinator", "featurestore"):
        check_listen(c, "--listen", "grpc", listens)
    if c.role == "worker":
        advertised = split_address(c.setting("--listen"))
        if advertised[1] != c.ports.get("metrics") or advertised[0] in ("0.0.0.0", "127.0.0.1", ""):
            fail(f"{c.name}: --listen {c.setting('--listen')} should advertise the pod's address and port")
        grace = pod.get("terminationGracePeriodSeconds", 30)
        shutdown = int(c.setting("--shutdown-timeout-ms")) / 1000
        if grace < shutdown + 10:
            fail(f"{c.name}: terminationGracePeriodSeconds {grace} leaves no room for the handoff after "
                 f"--shutdown-timeout-ms ({shutdown:.0f} s) to deliver rows")
    if c.role == "devkafka":
        port = int(c.setting("--port"))
        brokers = int(c.setting("--brokers") or 1)
        for b in range(brokers):
            listens[port + b] = "--port"
        if c.ports.get("kafka") != port:
            fail(f"{c.name}: containerPort \"kafka\" is {c.ports.get('kafka')}, --port is {port}")
        if c.setting("--listen-host") not in ("0.0.0.0", "", "::"):
            fail(f"{c.name}: --listen-host {c.setting('--listen-host')} is not reachable from other pods")
        advertised = c.setting("--advertise")
        service = next((o for o in objects if o["kind"] == "Service" and o["metadata"]["name"] == advertised), None)
        if service is None or not selects(service["spec"].get("selector"), c.template["metadata"]["labels"]):
            fail(f"{c.name}: --advertise {advertised} is not a Service that selects this pod")
        else:
            ports = {p["port"] for p in service["spec"]["ports"]}
            for b in range(brokers):
                if port + b not in ports:
                    fail(f"{c.name}: Service {advertised} lacks port {port + b} (broker {b + 1})")
        for probe in ("livenessProbe", "readinessProbe"):
            tcp = spec.get(probe, {}).get("tcpSocket")
            target = tcp and c.port_number(tcp["port"])
            if target != port:
                fail(f"{c.name}: {probe} must connect to the Kafka port {port}")
    for name, port in c.ports.items():
        if port not in listens:
            fail(f"{c.name}: containerPort {name}={port} is served by no listen flag")
    # Volumes: every mount has a volume; data dirs are mounted (the root file system is read-only).
    volumes = {v["name"] for v in pod.get("volumes", [])} | {
        t["metadata"]["name"] for t in c.workload["spec"].get("volumeClaimTemplates", [])}
    mounts = {m["mountPath"]: m["name"] for m in spec.get("volumeMounts", [])}
    for path, name in mounts.items():
        if name not in volumes:
            fail(f"{c.name}: mounts {name} at {path}, which is no volume of the pod")
    data_dir = c.setting("--data-dir") if "--data-dir" in c.help.options else None
    if data_dir and c.role in DAEMON_ROLES and not any(data_dir.startswith(p) for p in mounts):
        fail(f"{c.name}: --data-dir {data_dir} is not on a mounted volume")
    if not spec.get("securityContext", {}).get("readOnlyRootFilesystem"):
        fail(f"{c.name}: the root file system should be read-only (state lives on volumes)")


def service_for(address, objects, role_of_port):
    """Checks that HOST:PORT names a Service of the overlay whose port reaches a container serving it."""
    host, port = split_address(address)
    service = next((o for o in objects if o["kind"] == "Service" and o["metadata"]["name"] == host), None)
    if service is None:
        return f"{address}: no Service {host} in the overlay"
    sport = next((p for p in service["spec"]["ports"] if p["port"] == port), None)
    if sport is None:
        return f"{address}: Service {host} has no port {port}"
    for _, template in pod_templates(objects):
        if selects(service["spec"].get("selector"), template["metadata"].get("labels", {})):
            for c in template["spec"]["containers"]:
                for p in c.get("ports", []):
                    if sport.get("targetPort", port) in (p.get("name"), p["containerPort"]):
                        if role_of_port and c.get("args", [None])[0] != role_of_port:
                            return f"{address}: reaches {c.get('args', [None])[0]}, not {role_of_port}"
                        return None
    return f"{address}: Service {host} port {port} reaches no declared container port"


def check_overlay(name, objects, containers, source, overlay, weirctl):
    kinds = {}
    for o in objects:
        kinds.setdefault(o["kind"], []).append(o["metadata"]["name"])
    by_role = {}
    for c in containers:
        by_role.setdefault(c.role, []).append(c)
    # The shape the issue asks for.
    sts = {o["metadata"]["name"]: o for o in objects if o["kind"] == "StatefulSet"}
    coordinator = sts.get("weir-coordinator")
    if not coordinator or coordinator["spec"].get("replicas") != 1 or not coordinator["spec"].get("volumeClaimTemplates"):
        fail(f"{name}: the coordinator must be a StatefulSet of 1 with a volume claim template")
    if not sts.get("weir-featurestore", {}).get("spec", {}).get("volumeClaimTemplates"):
        fail(f"{name}: the feature store must be a StatefulSet with a volume claim template")
    if "weir-worker" not in sts:
        fail(f"{name}: workers must be a StatefulSet (stable identities)")
    for kind in ("HorizontalPodAutoscaler", "PodDisruptionBudget"):
        if "weir-worker" not in kinds.get(kind, []):
            fail(f"{name}: no {kind} for the workers")
    for o in objects:
        if o["kind"] == "HorizontalPodAutoscaler":
            ref = o["spec"]["scaleTargetRef"]
            target = next((w for w in objects if w["kind"] == ref["kind"] and w["metadata"]["name"] == ref["name"]), None)
            if target is None:
                fail(f"{name}: HPA {o['metadata']['name']} scales {ref['kind']}/{ref['name']}, which does not exist")
            elif any(not c.get("resources", {}).get("requests", {}).get("cpu")
                     for c in target["spec"]["template"]["spec"]["containers"]):
                fail(f"{name}: HPA on CPU needs CPU requests in {ref['name']}")
        if o["kind"] == "PodDisruptionBudget":
            selector = o["spec"]["selector"].get("matchLabels", {})
            if not any(selects(selector, t["metadata"].get("labels", {})) for _, t in pod_templates(objects)):
                fail(f"{name}: PDB {o['metadata']['name']} selects no pods")
        if o["kind"] == "Service":
            matched = [t for _, t in pod_templates(objects)
                       if selects(o["spec"].get("selector"), t["metadata"].get("labels", {}))]
            if len(matched) != 1:
                fail(f"{name}: Service {o['metadata']['name']} selects {len(matched)} workloads, want 1")
                continue
            declared = {p.get("name"): p["containerPort"] for c in matched[0]["spec"]["containers"]
                        for p in c.get("ports", [])}
            for p in o["spec"]["ports"]:
                target = p.get("targetPort", p["port"])
                number = declared.get(target) if isinstance(target, str) else target
                if number not in declared.values():
                    fail(f"{name}: Service {o['metadata']['name']} port {p['port']} targets {target}, not declared")
                elif number != p["port"]:
                    fail(f"{name}: Service {o['metadata']['name']} port {p['port']} maps to {number}: keep them equal")
    # Addresses between the parts.
    for c in containers:
        for flag, role in (("--coordinator", "coordinator"), ("--store", "featurestore")):
            # The worker always dials the coordinator; weirctl only what the manifest names.
            if flag in c.help.options and (c.role == "worker" or c.set_by_manifest(flag)):
                problem = service_for(c.setting(flag), objects, role)
                if problem:
                    fail(f"{c.name}: {flag} {problem}")
        if c.role == "loadgen" and "weir-devkafka" in kinds.get("Service", []):
            problem = service_for(c.setting("--brokers"), objects, "devkafka")
            if problem:
                fail(f"{c.name}: --brokers {problem}")
    # The jobs in the weir-jobs ConfigMap.
    jobs = next((o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "weir-jobs"), None)
    if jobs is None:
        return fail(f"{name}: no weir-jobs ConfigMap of example jobs")
    pvcs = {o["metadata"]["name"]: o for o in objects if o["kind"] == "PersistentVolumeClaim"}
    for file in jobs.get("data", {}):
        spec = yaml_to_json(source, os.path.join(overlay, "jobs", file))
        where = f"{name}: job {file}"
        problem = service_for(spec["sink"]["feature_store"], objects, "featurestore")
        if problem:
            fail(f"{where}: sink {problem}")
        brokers = spec["source"]["kafka"]["brokers"]
        if any(h in brokers for h in ("127.0.0.1", "localhost")):
            fail(f"{where}: brokers {brokers} is the pod itself")
        if "weir-devkafka" in kinds.get("Service", []):
            problem = service_for(brokers, objects, "devkafka")
            if problem:
                fail(f"{where}: brokers {problem}")
        storage = spec.get("checkpoint", {}).get("storage", "file:///var/lib/weir/checkpoints")
        path = storage[len("file://"):]
        for c in by_role.get("worker", []) + by_role.get("coordinator", []):
            mount = next((m for m in c.spec.get("volumeMounts", []) if path.startswith(m["mountPath"])), None)
            volume = mount and next((v for v in c.template["spec"].get("volumes", []) if v["name"] == mount["name"]),
                                    None)
            claim = volume and volume.get("persistentVolumeClaim", {}).get("claimName")
            if claim not in pvcs or "ReadWriteMany" not in pvcs[claim]["spec"].get("accessModes", []):
                fail(f"{where}: checkpoint storage {path} is not on a ReadWriteMany claim in {c.name}")
        r = run([weirctl, "replay", "--job", os.path.join(overlay, "jobs", file), "--input", "/dev/null"])
        if r.returncode != 0:
            fail(f"{where}: not a valid job: {r.stderr.strip()}")


class Helps:
    def __init__(self, image):
        self.image = image
        self.cache = {}

    def __call__(self, binary, subcommands=()):
        key = (binary, subcommands)
        if key not in self.cache:
            self.cache[key] = help_of(self.image.binaries[binary], subcommands)
        return self.cache[key]



# --- live: the dev overlay on loopback -------------------------------------------------


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


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", required=True)
    parser.add_argument("--bin", required=True, help="the CMake build directory")
    parser.add_argument("--no-live", action="store_true", help="static checks only")
    args = parser.parse_args()
    source = os.path.abspath(args.source)
    bindir = os.path.abspath(args.bin)
    tmp = tempfile.mkdtemp(prefix="weir-deploy-")
    try:
        image = Image(source, bindir)
        image.check_runtime_libraries()
        dockerignore = open(os.path.join(source, ".dockerignore")).read().split()
        for pattern in ("build*/", "data/", "logs/"):
            if pattern not in dockerignore:
                fail(f".dockerignore does not keep {pattern} out of the build context")
        entrypoint = Entrypoint(image, tmp)
        for role in DAEMON_ROLES | {"loadgen", "weirctl"}:
            if entrypoint.resolve(role) is None:
                fail(f"entrypoint: role {role} does not run a binary the image has")
        helps = Helps(image)
        rendered = {}
        for name in ("dev", "prod"):
            overlay = os.path.join(source, "deploy/k8s/overlays", name)
            objects = render(source, overlay)
            containers = [Container(name, w, t, c, objects, image, entrypoint, helps)
                          for w, t in pod_templates(objects) for c in t["spec"]["containers"]]
            containers = [c for c in containers if c.binary is not None]
            for c in containers:
                check_container(c, objects, image.uid)
            check_overlay(name, objects, containers, source, overlay, image.binaries["weirctl"])
            rendered[name] = (objects, containers)
            print(f"{name}: {len(containers)} containers checked against "
                  f"{', '.join(sorted({c.binary for c in containers}))}")
        if not FAILURES and not args.no_live:
            live_dev(*rendered["dev"], image, source, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if FAILURES:
        print(f"{len(FAILURES)} problems", file=sys.stderr)
        return 1
    print("deploy: manifests, entrypoint and Dockerfile agree with the binaries")
    return 0


if __name__ == "__main__":
    sys.exit(main())
