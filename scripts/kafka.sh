#!/usr/bin/env bash
# A real Apache Kafka cluster on loopback, in KRaft mode, from the Maven
# Central jars that tools/kafka/pom.xml pins (fetched once into
# .cache/kafka/<version>/lib by `mvn dependency:copy-dependencies`).
#
#   scripts/kafka.sh start [--brokers 1|3] [--sasl-ssl] [--dir DIR]
#   scripts/kafka.sh stop [--dir DIR] [--keep]
#   scripts/kafka.sh tool CLASS ARGS...      run a Kafka command-line class with the jars
#   scripts/kafka.sh topic NAME PARTITIONS [REPLICATION] [--config k=v ...]
#   scripts/kafka.sh start-node DIR ID       start node ID again (after a kill); prints its pid
#   scripts/kafka.sh stop-node DIR ID        stop node ID (SIGTERM, then SIGKILL after 30 s)
#   scripts/kafka.sh cert DIR valid|expired  sign the brokers' certificate again (--sasl-ssl
#                                            clusters): valid 30 days, or expired since 2020;
#                                            a node uses it from its next start
#
# start: N combined broker+controller nodes (default 1) on free loopback
# ports, data under DIR (default $TMPDIR/weir-kafka), each node's log in
# DIR/node-<id>.log. It returns once every broker is registered, and writes
# DIR/env for `source`:
#   KAFKA_BOOTSTRAP        the PLAINTEXT listeners (host:port,...)
#   KAFKA_BROKERS          how many nodes
#   KAFKA_PIDS             their process ids
# With --sasl-ssl every node has a second listener, SASL_SSL with
# SCRAM-SHA-512 and PLAIN, and start generates with openssl a CA and a broker
# certificate for 127.0.0.1/localhost, and one user for both mechanisms.
# (Debian's librdkafka 2.0.2 fails SCRAM against Kafka 4.x: it repeats the
# client nonce in its final message, which Kafka 4 rejects; fixed in
# librdkafka 2.6.1. Java clients use SCRAM; librdkafka clients here use PLAIN,
# over TLS.) DIR/env then adds:
#   KAFKA_SASL_BOOTSTRAP   the SASL_SSL listeners
#   KAFKA_CA               the CA certificate (PEM) clients verify brokers with
#   KAFKA_SASL_USER        the user (SCRAM-SHA-512 and PLAIN; password in DIR/sasl-password)
# stop: SIGTERM to every node (SIGKILL after 30 s), then removes DIR unless --keep.
#
# Needs java (17+) and mvn: scripts/setup.sh installs them when missing. The
# jars are fetched once, then used offline.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$root/tools/kafka/pom.xml")
# Keyed by the pom's content: a changed pom fetches again.
lib="$root/.cache/kafka/$version-$(sha1sum "$root/tools/kafka/pom.xml" | cut -c1-8)/lib"

die() { echo "kafka.sh: $*" >&2; exit 1; }

# One fetch at a time (two tests may start a cluster at once on a fresh
# clone): the first fetches under the lock, the others find it complete.
fetch_jars() {
  [ -f "$lib/.complete" ] && return 0
  mkdir -p "$(dirname "$lib")"
  exec 9> "$(dirname "$lib")/.fetch.lock"
  flock 9
  if [ -f "$lib/.complete" ]; then flock -u 9; return 0; fi
  command -v mvn >/dev/null || die "mvn is not installed (scripts/setup.sh installs it)"
  echo "kafka.sh: fetching Apache Kafka $version's jars into $lib" >&2
  rm -rf "$lib"
  mvn -q -B -Dstyle.color=never -f "$root/tools/kafka/pom.xml" -Dmaven.repo.local="$root/.cache/m2" \
    dependency:copy-dependencies -DoutputDirectory="$lib" >&2 || die "mvn could not fetch the Kafka jars"
  touch "$lib/.complete"
  flock -u 9
}

# java_argv LOG4J_CONFIG: sets JAVA_ARGV to the JVM's command line up to the
# class. A node runs as `"${JAVA_ARGV[@]}" kafka.Kafka ... &`, a simple
# command, so $! is the JVM's own pid (not a subshell's) and signals reach it.
java_argv() {
  command -v java >/dev/null || die "java is not installed (scripts/setup.sh installs it)"
  JAVA_ARGV=(java -Xms128m "-Xmx${KAFKA_HEAP:-512m}" -XX:+UseG1GC -Djava.awt.headless=true
    "-Dlog4j2.configurationFile=$1" -cp "$lib/*")
}
java_cmd() {  # java_cmd LOG4J_CONFIG CLASS ARGS...: in the foreground
  java_argv "$1"
  shift
  "${JAVA_ARGV[@]}" "$@"
}

# Free loopback TCP ports, bound and released by the kernel's choice. A port
# another process takes meanwhile makes that node fail to start: start then
# tries again with new ports (at most 3 times).
free_ports() {  # free_ports N
  python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

write_log4j() {  # write_log4j FILE: INFO to stdout (the node's log), quieter libraries
  cat > "$1" <<'EOF'
Configuration:
  Appenders:
    Console:
      name: out
      target: SYSTEM_OUT
      PatternLayout: { pattern: "[%d] %p %m (%c)%n" }
  Loggers:
    Root: { level: INFO, AppenderRef: [ { ref: out } ] }
    Logger:
      - { name: kafka.request.logger, level: WARN }
      - { name: org.apache.kafka.clients, level: WARN }
      - { name: state.change.logger, level: WARN }
EOF
}

# The CA, and one certificate for every node (SAN 127.0.0.1 and localhost),
# key and chain in one PEM file as Kafka's PEM keystore reads it.
make_certs() {  # make_certs DIR
  local d=$1
  command -v openssl >/dev/null || die "openssl is not installed"
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=weir-test-ca" \
    -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$d/broker.key" -out "$d/broker.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > "$d/san.ext"
  openssl pkcs8 -topk8 -nocrypt -in "$d/broker.key" -out "$d/broker.p8" 2>/dev/null
  : > "$d/ca-index.txt"
  echo "unique_subject = no" > "$d/ca-index.txt.attr"
  echo 01 > "$d/ca-serial"
  printf '[ca]\ndefault_ca = weir\n[weir]\nunique_subject = no\ndatabase = %s\nnew_certs_dir = %s\nserial = %s\npolicy = any\ndefault_md = sha256\n[any]\ncommonName = supplied\n' \
    "$d/ca-index.txt" "$d" "$d/ca-serial" > "$d/ca.cnf"
  sign_cert "$d" valid
}

# sign_cert DIR valid|expired: signs the broker key again with the CA, valid
# for 30 days from now or expired since 2020, and writes the node keystore.
# A node reads it when it starts (`cert` then `start-node`).
sign_cert() {
  local d=$1 dates
  case "$2" in
    valid) dates=(-days 30) ;;
    expired) dates=(-startdate 20200101000000Z -enddate 20200102000000Z) ;;
    *) die "cert: valid or expired, not $2" ;;
  esac
  rm -f "$d/broker.pem"
  openssl ca -batch -notext -config "$d/ca.cnf" -cert "$d/ca.pem" -keyfile "$d/ca.key" -in "$d/broker.csr" \
    -out "$d/broker.pem" "${dates[@]}" -extfile "$d/san.ext" 2>/dev/null || die "cert: openssl could not sign"
  cat "$d/broker.p8" "$d/broker.pem" "$d/ca.pem" > "$d/broker-keystore.pem"
  chmod 600 "$d"/*.key "$d"/*.p8 "$d/broker-keystore.pem"
}

start() {
  local brokers=1 sasl=0 dir="${TMPDIR:-/tmp}/weir-kafka"
  while [ $# -gt 0 ]; do
    case "$1" in
      --brokers) brokers=$2; shift 2 ;;
      --sasl-ssl) sasl=1; shift ;;
      --dir) dir=$2; shift 2 ;;
      *) die "start: unknown argument $1" ;;
    esac
  done
  [[ "$brokers" =~ ^[13]$ ]] || die "start: --brokers is 1 or 3, not $brokers"
  [ -e "$dir/env" ] && die "start: $dir already holds a cluster (scripts/kafka.sh stop --dir $dir)"
  fetch_jars
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  write_log4j "$dir/log4j2.yaml"
  if [ $sasl = 1 ]; then
    make_certs "$dir"
    python3 -c 'import secrets; print(secrets.token_urlsafe(18), end="")' > "$dir/sasl-password"
    chmod 600 "$dir/sasl-password"
  fi
  local started=$SECONDS attempt
  for attempt in 1 2 3; do
    if start_nodes "$dir" "$brokers" "$sasl"; then
      echo "kafka.sh: $brokers broker(s) of Apache Kafka $version up in $((SECONDS - started)) s:" \
        "$(sed -n 's/^KAFKA_BOOTSTRAP=//p' "$dir/env")" >&2
      return 0
    fi
    echo "kafka.sh: start attempt $attempt failed; see $dir/node-*.log" >&2
    stop_nodes "$dir"
    rm -f "$dir/env"
  done
  die "start: the cluster did not come up (logs in $dir/node-*.log)"
}

start_nodes() {  # start_nodes DIR BROKERS SASL: 0 once every broker is registered
  local dir=$1 n=$2 sasl=$3 per=2
  [ "$sasl" = 1 ] && per=3
  local ports
  read -r -a ports <<< "$(free_ports $((n * per)))"
  local voters="" plain="" secured="" i
  for i in $(seq 1 "$n"); do
    voters+="${voters:+,}$i@127.0.0.1:${ports[$(((i - 1) * per + 1))]}"
    plain+="${plain:+,}127.0.0.1:${ports[$(((i - 1) * per))]}"
    [ "$sasl" = 1 ] && secured+="${secured:+,}127.0.0.1:${ports[$(((i - 1) * per + 2))]}"
  done
  local cluster_id
  # A Kafka cluster id: 16 random bytes, base64url without padding (what
  # `kafka-storage random-uuid` prints, without a JVM's start).
  cluster_id=$(python3 -c 'import base64, uuid; print(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="))')
  local pids=() formats=()
  for i in $(seq 1 "$n"); do
    local p=${ports[$(((i - 1) * per))]} c=${ports[$(((i - 1) * per + 1))]} props="$dir/node-$i.properties"
    rm -rf "$dir/node-$i"
    local rf=$n isr=$((n > 1 ? 2 : 1))
    {
      echo "process.roles=broker,controller"
      echo "node.id=$i"
      echo "controller.quorum.voters=$voters"
      echo "controller.listener.names=CONTROLLER"
      echo "inter.broker.listener.name=PLAINTEXT"
      echo "log.dirs=$dir/node-$i"
      echo "offsets.topic.replication.factor=$rf"
      echo "transaction.state.log.replication.factor=$rf"
      echo "transaction.state.log.min.isr=$isr"
      echo "default.replication.factor=$rf"
      echo "num.partitions=1"
      echo "auto.create.topics.enable=false"
      echo "group.initial.rebalance.delay.ms=0"
      echo "log.flush.interval.messages=9223372036854775807"
      if [ "$sasl" = 1 ]; then
        local s=${ports[$(((i - 1) * per + 2))]}
        echo "listeners=PLAINTEXT://127.0.0.1:$p,CONTROLLER://127.0.0.1:$c,SASL_SSL://127.0.0.1:$s"
        echo "advertised.listeners=PLAINTEXT://127.0.0.1:$p,SASL_SSL://127.0.0.1:$s"
        echo "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL"
        echo "sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN"
        echo "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;"
        echo "listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_weir=\"$(cat "$dir/sasl-password")\";"
        echo "ssl.keystore.type=PEM"
        echo "ssl.keystore.location=$dir/broker-keystore.pem"
        echo "ssl.truststore.type=PEM"
        echo "ssl.truststore.location=$dir/ca.pem"
      else
        echo "listeners=PLAINTEXT://127.0.0.1:$p,CONTROLLER://127.0.0.1:$c"
        echo "advertised.listeners=PLAINTEXT://127.0.0.1:$p"
        echo "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
      fi
    } > "$props"
    local scram=()
    [ "$sasl" = 1 ] && scram=(--add-scram "SCRAM-SHA-512=[name=weir,password=\"$(cat "$dir/sasl-password")\"]")
    # Every node's storage is formatted at once (a JVM each), then started.
    KAFKA_HEAP=256m java_argv "$dir/log4j2.yaml"
    "${JAVA_ARGV[@]}" kafka.tools.StorageTool format --ignore-formatted -t "$cluster_id" -c "$props" "${scram[@]}" \
      > "$dir/node-$i.format.log" 2>&1 &
    formats+=($!)
  done
  for i in $(seq 1 "$n"); do
    wait "${formats[$((i - 1))]}" || { echo "kafka.sh: format of node $i failed (see $dir/node-$i.format.log)" >&2; return 1; }
  done
  for i in $(seq 1 "$n"); do
    launch_node "$dir" "$i"
    pids+=($!)
  done
  {
    echo "KAFKA_BOOTSTRAP=$plain"
    echo "KAFKA_BROKERS=$n"
    echo "KAFKA_PIDS=\"${pids[*]}\""
    echo "KAFKA_VERSION=$version"
    if [ "$sasl" = 1 ]; then
      echo "KAFKA_SASL_BOOTSTRAP=$secured"
      echo "KAFKA_CA=$dir/ca.pem"
      echo "KAFKA_SASL_USER=weir"
    fi
  } > "$dir/env"
  # Up: the metadata lists every broker.
  local deadline=$((SECONDS + 60)) pid
  while [ $SECONDS -lt $deadline ]; do
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null || return 1; done
    if [ "$(timeout 10 kcat -b "$plain" -L -J 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["brokers"]))' 2>/dev/null)" = "$n" ]; then
      return 0
    fi
    sleep 0.3
  done
  return 1
}

launch_node() {  # launch_node DIR ID: starts a formatted node in the background ($! is its pid)
  java_argv "$1/log4j2.yaml"
  "${JAVA_ARGV[@]}" kafka.Kafka "$1/node-$2.properties" >> "$1/node-$2.log" 2>&1 &
}

# start-node DIR ID: starts node ID of a cluster again (after a kill), on its
# data and ports; prints its pid and records it in DIR/env.
start_node() {
  local dir=$1 id=$2
  [ -f "$dir/env" ] && [ -f "$dir/node-$id.properties" ] || die "start-node: no node $id in $dir"
  launch_node "$dir" "$id"
  local pid=$!
  local old
  old=$(sed -n 's/^KAFKA_PIDS="\(.*\)"/\1/p' "$dir/env")
  local pids=()
  read -r -a pids <<< "$old"
  pids[$((id - 1))]=$pid
  sed -i "s/^KAFKA_PIDS=.*/KAFKA_PIDS=\"${pids[*]}\"/" "$dir/env"
  echo "$pid"
}

stop_node() {  # stop-node DIR ID
  local dir=$1 id=$2 pids=() pid
  [ -f "$dir/env" ] || die "stop-node: no cluster in $dir"
  read -r -a pids <<< "$(sed -n 's/^KAFKA_PIDS="\(.*\)"/\1/p' "$dir/env")"
  pid=${pids[$((id - 1))]:-}
  [ -n "$pid" ] || die "stop-node: no node $id in $dir"
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}

stop_nodes() {  # stop_nodes DIR
  local dir=$1 pids="" pid
  [ -f "$dir/env" ] && pids=$(sed -n 's/^KAFKA_PIDS="\(.*\)"/\1/p' "$dir/env")
  # Nodes of an attempt that did not write env yet: by their properties file.
  pids+=" $(pgrep -f "kafka.Kafka $dir/node-" || true)"
  for pid in $pids; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in $pids; do
    for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
}

stop() {
  local dir="${TMPDIR:-/tmp}/weir-kafka" keep=0
  while [ $# -gt 0 ]; do
    case "$1" in
      --dir) dir=$2; shift 2 ;;
      --keep) keep=1; shift ;;
      *) die "stop: unknown argument $1" ;;
    esac
  done
  [ -d "$dir" ] || return 0
  stop_nodes "$dir"
  if [ $keep = 1 ]; then rm -f "$dir/env"; else rm -rf "$dir"; fi
}

tool() {  # tool CLASS ARGS...
  fetch_jars
  local log4j
  log4j=$(mktemp --suffix .yaml)
  printf 'Configuration:\n  Appenders:\n    Console: { name: err, target: SYSTEM_ERR, PatternLayout: { pattern: "%%p %%m%%n" } }\n  Loggers:\n    Root: { level: WARN, AppenderRef: [ { ref: err } ] }\n' > "$log4j"
  local code=0
  KAFKA_HEAP=256m java_cmd "$log4j" "$@" || code=$?
  rm -f "$log4j"
  return $code
}

topic() {  # topic NAME PARTITIONS [REPLICATION] [--config k=v]...: on $KAFKA_BOOTSTRAP
  [ -n "${KAFKA_BOOTSTRAP:-}" ] || die "topic: set KAFKA_BOOTSTRAP (source DIR/env)"
  local name=$1 partitions=$2 rf=${3:-${KAFKA_BROKERS:-1}}
  shift 2
  [ $# -gt 0 ] && [[ "$1" != --* ]] && shift
  tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$KAFKA_BOOTSTRAP" --create --topic "$name" \
    --partitions "$partitions" --replication-factor "$rf" "$@" >/dev/null
}

case "${1:-}" in
  start) shift; start "$@" ;;
  stop) shift; stop "$@" ;;
  tool) shift; tool "$@" ;;
  topic) shift; topic "$@" ;;
  start-node) shift; start_node "$@" ;;
  stop-node) shift; stop_node "$@" ;;
  cert)
    [ -f "${2:-}/ca.cnf" ] || die "cert: ${2:-} has no CA (start the cluster with --sasl-ssl)"
    sign_cert "$2" "${3:-}" ;;
  *) awk 'NR > 1 && /^#/ { print; next } NR > 1 { exit }' "$0"; exit 2 ;;
esac
