#!/usr/bin/env bash
# Installs the Debian packages Weir needs to build and test.
# Idempotent: when every package is already installed it only checks and exits.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  librdkafka-dev libboost-dev libspdlog-dev libfmt-dev catch2 librocksdb-dev
  libyaml-cpp-dev prometheus-cpp-dev libsimdjson-dev libabsl-dev
  libxxhash-dev libcli11-dev libbenchmark-dev kcat clang-format python3
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends "${missing[@]}"
