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
import sys
import tempfile

from deploy_common import DAEMON_ROLES, FAILURES, HTTP_ROLES, fail, run, yaml_to_json
from deploy_image import Entrypoint, Image, help_of
from live_dev import live_dev

# --- the repository's files ------------------------------------------------------------


def render(source, overlay):
    r = run(["node", os.path.join(source, "deploy/tools/kustomize.mjs"), overlay, "--json"])
    if r.returncode != 0:
        sys.exit(f"FAIL: cannot render {overlay}: {r.stderr.strip()} (did scripts/setup.sh run npm ci in deploy/tools?)")
    return json.loads(r.stdout)


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
