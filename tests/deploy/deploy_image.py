"""The deploy test's view of the image: the Dockerfile's stages and
installs, the binaries' --help, and the entrypoint's roles."""
import json
import os
import re
import sys

from deploy_common import FAILURES, fail, run


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


