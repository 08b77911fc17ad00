#!/usr/bin/env bash
# Docker's HEALTHCHECK: asks the daemon running as PID 1 (the entrypoint execs
# it) for /healthz on its metrics address, found the way the daemon found it:
# --metrics-listen on its command line, else WEIR_METRICS_LISTEN in its
# environment. weir-devkafka has no HTTP side: its bootstrap port must accept.
# Kubernetes does not use this; its probes call /healthz and /readyz directly.
# WEIR_HEALTHCHECK_PID checks another process instead of PID 1 (tests).
set -euo pipefail

pid=${WEIR_HEALTHCHECK_PID:-1}
mapfile -d '' argv < "/proc/$pid/cmdline"
mapfile -d '' environ < "/proc/$pid/environ" 2>/dev/null || environ=()

# Value of flag $1 on PID 1's command line (--flag VALUE or --flag=VALUE), else env $2.
setting() {
  local i
  for ((i = 1; i < ${#argv[@]}; i++)); do
    case "${argv[i]}" in
      "$1") echo "${argv[i + 1]:-}"; return ;;
      "$1"=*) echo "${argv[i]#*=}"; return ;;
    esac
  done
  for kv in ${environ[@]+"${environ[@]}"}; do
    [ "${kv%%=*}" = "$2" ] && { echo "${kv#*=}"; return; }
  done
}

local_address() {  # 0.0.0.0:P, [::]:P and :P are reached on loopback
  local host=${1%:*} port=${1##*:}
  case "$host" in "" | 0.0.0.0 | "[::]" | "::") host=127.0.0.1 ;; esac
  echo "$host:$port"
}

name=$(basename "${argv[0]}")
case "$name" in
  weir-coordinator | weir-worker | weir-featurestore)
    address=$(setting --metrics-listen WEIR_METRICS_LISTEN)
    [ -n "$address" ] || { echo "$name: no metrics address" >&2; exit 1; }
    url="http://$(local_address "$address")/healthz"
    curl -fsS --max-time 2 -o /dev/null "$url"
    echo "healthy: $name $url" ;;
  weir-devkafka)
    port=$(setting --port WEIR_DEVKAFKA_PORT)
    bash -c "exec 3<>/dev/tcp/127.0.0.1/${port:-9092}"
    echo "healthy: $name 127.0.0.1:${port:-9092} accepts" ;;
  *) echo "not a daemon: $name" ;;  # weirctl and weir-loadgen are commands, not services
esac
