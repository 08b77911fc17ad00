#!/usr/bin/env bash
# Installs the Debian packages Weir needs to build and test, and the npm
# packages deploy/tools uses to check the Kubernetes manifests.
# Idempotent: when every package is already installed it only checks and exits.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  librdkafka-dev libboost-dev libspdlog-dev libfmt-dev catch2 librocksdb-dev
  libyaml-cpp-dev prometheus-cpp-dev libsimdjson-dev libabsl-dev
  libxxhash-dev libcli11-dev libbenchmark-dev kcat clang-format clang-tidy clang-14 libclang-rt-14-dev python3 python3-venv
  openssl
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# Node.js and npm check the Kubernetes manifests offline (deploy/tools). A
# machine that already has node (say from NodeSource) keeps it.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  missing+=(nodejs npm)
fi

# Java and Maven run the real Apache Kafka broker (scripts/kafka.sh) for the
# `kafka` tests; javac compiles bench/peers (Flink and Kafka Streams beside
# Weir: scripts/bench-peers.sh, the `peers` test). A machine that already has
# a JDK 17+ and mvn keeps them.
if ! command -v java >/dev/null || ! command -v javac >/dev/null; then missing+=(openjdk-17-jdk-headless); fi
if ! command -v mvn >/dev/null; then missing+=(maven); fi

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
else
  echo "setup: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi

# deploy/tools' npm packages (kubernetes-models, yaml), exactly as locked;
# again only when the lock file changed since the last install.
tools="$(dirname "$0")/../deploy/tools"
if [ ! -f "$tools/node_modules/.package-lock.json" ] || [ "$tools/package-lock.json" -nt "$tools/node_modules/.package-lock.json" ]; then
  echo "setup: npm ci in deploy/tools"
  (cd "$tools" && npm ci --no-audit --no-fund --loglevel=error)
fi

# The Python SDK's virtual environment (.cache/venv, git-ignored) with the
# pinned packages of python/requirements-dev.txt; pip's downloads are cached
# in .cache/pip, and nothing is installed again until that file changes, so a
# second run is offline and fast.
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.cache/venv"
if [ ! -x "$venv/bin/python" ] || ! cmp -s "$root/python/requirements-dev.txt" "$venv/.weir-requirements"; then
  echo "setup: python virtual environment in .cache/venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --cache-dir "$root/.cache/pip" \
    -r "$root/python/requirements-dev.txt"
  cp "$root/python/requirements-dev.txt" "$venv/.weir-requirements"
fi
