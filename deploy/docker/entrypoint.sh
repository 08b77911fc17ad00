#!/usr/bin/env bash
# The image's entrypoint: the first argument names the role, the rest are that
# binary's flags. Each daemon also reads every flag from the WEIR_* variable of
# the same name; the defaults below suit a container (listen on every
# interface, state under /var/lib/weir) and apply only where the variable is
# unset, and a flag on the command line beats both.
#
#   weir coordinator | worker | featurestore | devkafka | loadgen | weirctl  [FLAGS...]
#   weir help
set -euo pipefail

bin_dir=${WEIR_BIN_DIR:-/usr/local/bin}
role=${1:-help}
[ $# -gt 0 ] && shift

defaults=()
case "$role" in
  coordinator)
    bin=weir-coordinator
    defaults=(WEIR_LISTEN=0.0.0.0:7071 WEIR_METRICS_LISTEN=0.0.0.0:9465 WEIR_DATA_DIR=/var/lib/weir/coordinator) ;;
  worker)
    bin=weir-worker
    defaults=(WEIR_METRICS_LISTEN=0.0.0.0:9466 WEIR_DATA_DIR=/var/lib/weir/worker) ;;
  featurestore)
    bin=weir-featurestore
    defaults=(WEIR_LISTEN=0.0.0.0:7070 WEIR_METRICS_LISTEN=0.0.0.0:9464 WEIR_DATA_DIR=/var/lib/weir/featurestore) ;;
  devkafka)
    bin=weir-devkafka
    defaults=(WEIR_DEVKAFKA_LISTEN_HOST=0.0.0.0) ;;
  loadgen) bin=weir-loadgen ;;
  weirctl | ctl) bin=weirctl ;;
  help | -h | --help)
    cat <<'USAGE'
usage: weir ROLE [FLAGS...]
  coordinator    jobs, workers, partition assignment, checkpoints   (gRPC 7071, HTTP 9465)
  worker         runs the partitions the coordinator assigns        (HTTP 9466)
  featurestore   the online feature store                           (gRPC 7070, HTTP 9464)
  devkafka       a single-process Kafka for development             (9092)
  loadgen        produces test events into Kafka
  weirctl        the command-line client
`weir ROLE --help` lists a role's flags; each daemon flag --foo-bar is also WEIR_FOO_BAR.
USAGE
    exit 0 ;;
  *)
    echo "weir: unknown role \"$role\" (try: weir help)" >&2
    exit 2 ;;
esac

for kv in ${defaults[@]+"${defaults[@]}"}; do
  name=${kv%%=*}
  [ -n "${!name:-}" ] || export "$kv"
done
exec "$bin_dir/$bin" "$@"
