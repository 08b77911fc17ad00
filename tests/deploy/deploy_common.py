"""What the deploy tests share: the failures found so far, the daemons'
roles, and running a command."""
import json
import os
import subprocess
import sys

FAILURES = []
DAEMON_ROLES = {"coordinator", "worker", "featurestore", "devkafka"}
HTTP_ROLES = {"coordinator", "worker", "featurestore"}


def fail(message):
    FAILURES.append(message)
    print(f"FAIL: {message}", file=sys.stderr)


def run(cmd, **kwargs):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, **kwargs)


def yaml_to_json(source, path):
    r = run(["node", os.path.join(source, "deploy/tools/yaml2json.mjs"), path])
    if r.returncode != 0:
        sys.exit(f"FAIL: cannot parse {path}: {r.stderr.strip()}")
    return json.loads(r.stdout)

