#!/usr/bin/env bash
# The peer engines' classpath (bench/peers: Flink, its Kafka connector and
# RocksDB backend, Kafka Streams): prints it on stdout, after fetching the jars
# once into .cache/peers/<versions>-<pom hash>/lib (Maven, with .cache/m2 as
# the local repository) and compiling bench/peers offline into
# .cache/peers/.../classes when its sources changed.
#
#   scripts/peers-java.sh classpath flink|streams   prints CLASSPATH for `java -cp`
#       Flink's RocksDB backend ships its own RocksDB (frocksdbjni) in the same
#       Java package as Kafka Streams' (rocksdbjni): each JVM gets one of them.
#   scripts/peers-java.sh log4j FILE    writes a log4j2 configuration (WARN and
#                                       above to stderr) for those JVMs
#
# Used by scripts/bench-peers.sh and tests/peers/cross_check.sh. Needs java
# (17+) and mvn: scripts/setup.sh installs them.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
pom="$root/bench/peers/pom.xml"
die() { echo "peers-java.sh: $*" >&2; exit 1; }
version() { sed -n "s:.*<$1>\(.*\)</$1>.*:\1:p" "$pom"; }

dir="$root/.cache/peers/flink-$(version flink.version)-kafka-$(version kafka.version)-$(sha1sum "$pom" | cut -c1-8)"
lib="$dir/lib"

fetch_jars() {  # one fetch at a time; the others find it complete
  [ -f "$lib/.complete" ] && return 0
  mkdir -p "$dir"
  exec 9> "$dir/.fetch.lock"
  flock 9
  if [ ! -f "$lib/.complete" ]; then
    command -v mvn >/dev/null || die "mvn is not installed (scripts/setup.sh installs it)"
    echo "peers-java.sh: fetching Flink's and Kafka Streams' jars into $lib" >&2
    rm -rf "$lib"
    mvn -q -B -Dstyle.color=never -f "$pom" -Dmaven.repo.local="$root/.cache/m2" \
      dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$lib" >&2 ||
      die "mvn could not fetch the peers' jars"
    touch "$lib/.complete"
  fi
  flock -u 9
}

# Compiles with javac (no Maven plugins to fetch) when a source is newer than
# the last build.
compile() {
  local classes="$dir/classes" stamp="$dir/classes/.built"
  if [ -f "$stamp" ] && [ -z "$(find "$root/bench/peers/src" -newer "$stamp" -name '*.java' | head -1)" ]; then
    return 0
  fi
  exec 8> "$dir/.compile.lock"
  flock 8
  rm -rf "$classes" && mkdir -p "$classes"
  find "$root/bench/peers/src/main/java" -name '*.java' > "$dir/sources.txt"
  javac -nowarn --release 17 -encoding UTF-8 -cp "$lib/*" -d "$classes" "@$dir/sources.txt" >&2 ||
    die "javac could not compile bench/peers"
  touch "$stamp"
  flock -u 8
}

case "${1:-}" in
  classpath)
    case "${2:-}" in
      flink) drop=rocksdbjni- ;;
      streams) drop=frocksdbjni- ;;
      *) die "classpath flink or classpath streams" ;;
    esac
    fetch_jars
    compile
    printf '%s' "$dir/classes"
    for jar in "$lib"/*.jar; do
      case "${jar##*/}" in "$drop"*) ;; *) printf ':%s' "$jar" ;; esac
    done
    echo
    ;;
  log4j)
    cat > "$2" <<'LOG'
rootLogger.level = WARN
rootLogger.appenderRef.err.ref = err
appender.err.type = Console
appender.err.name = err
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
LOG
    ;;
  *) die "usage: peers-java.sh classpath flink|streams | log4j FILE" ;;
esac
