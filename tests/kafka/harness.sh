#!/usr/bin/env bash
# harness.sh: a real Apache Kafka 3.9.1 (KRaft) on loopback for the tests.
#
#   harness.sh fetch                          fetch the jars (Maven Central, with mvn)
#   harness.sh start --dir DIR [--nodes 1|3]  format storage, start, wait until ready
#   harness.sh stop  --dir DIR                SIGTERM, then SIGKILL after a timeout
#   harness.sh kill-node  --dir DIR N         SIGKILL node N (fault tests)
#   harness.sh start-node --dir DIR N         restart node N on its old storage
#   harness.sh status --dir DIR               one line per node: N PID up|down
#
# DIR afterwards holds:
#   bootstrap         host:port[,host:port...] on one line
#   pids              "N PID" per node
#   nodes             "N PORT CONTROLLER_PORT" per node
#   node-N/           server.properties, log4j.properties, data/, server.log, stdout
#
# Environment:
#   PB_KAFKA_CACHE          jar cache (default ~/.cache/partnerbus/kafka-3.9.1)
#   PB_KAFKA_JVM_OPTS       replaces the default JVM options
#   PB_KAFKA_START_TIMEOUT  seconds to wait for readiness (default 180)
#   PB_KAFKA_STOP_TIMEOUT   seconds between SIGTERM and SIGKILL (default 30)
#   JAVA, MVN, KCAT         programs to use (default: from PATH)
#
# Exit status: 0 on success; 1 on failure (with the tail of the broker log on
# stderr); 2 on a usage error.
set -euo pipefail

KAFKA_VERSION=3.9.1
SLF4J_VERSION=1.7.36
RELOAD4J_VERSION=1.2.25
PROC_NAME=harness PROC_USAGE_LAST=9
source "$(dirname "${BASH_SOURCE[0]}")/proc.sh"

CACHE=${PB_KAFKA_CACHE:-${HOME:-/tmp}/.cache/partnerbus/kafka-$KAFKA_VERSION}
LIBS=$CACHE/libs
KCAT=${KCAT:-kcat}
START_TIMEOUT=${PB_KAFKA_START_TIMEOUT:-180}
STOP_TIMEOUT=${PB_KAFKA_STOP_TIMEOUT:-30}
JVM_OPTS=${PB_KAFKA_JVM_OPTS:-$(jvm_opts 512m)}
PROBE_TOPIC=_pb_ready_probe

# ---------------------------------------------------------------- fetch

# The pom lists what kafka.Kafka needs at run time: kafka_2.13 brings the
# server modules (kafka-server, -metadata, -raft, -storage,
# -group-coordinator, -transaction-coordinator, -clients, scala) through its
# own dependencies; slf4j-reload4j binds the logging to reload4j.
write_pom() {
        cat >"$1" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>partnerbus.test</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>$KAFKA_VERSION</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-reload4j</artifactId>
      <version>$SLF4J_VERSION</version>
    </dependency>
    <dependency>
      <groupId>ch.qos.reload4j</groupId>
      <artifactId>reload4j</artifactId>
      <version>$RELOAD4J_VERSION</version>
    </dependency>
  </dependencies>
</project>
EOF
}

fetch() {
        local want
        want=$(write_pom /dev/stdout | cksum | cut -d' ' -f1)
        cache_once "$CACHE" "$want" "" fetch_jars
}

# fetch_jars: the Kafka jars into LIBS (cache_once holds the lock)
fetch_jars() {
        log "fetching Apache Kafka $KAFKA_VERSION jars into $LIBS (maven)"
        local t0=$SECONDS
        rm -rf "$LIBS"
        write_pom "$CACHE/pom.xml"
        if ! "$MVN" -B -q -f "$CACHE/pom.xml" dependency:copy-dependencies \
                -DincludeScope=runtime -DoutputDirectory="$LIBS" >"$CACHE/mvn.log" 2>&1; then
                tail -n 40 "$CACHE/mvn.log" >&2
                die "maven could not fetch the Kafka jars (log: $CACHE/mvn.log)"
        fi
        [[ -f $LIBS/kafka_2.13-$KAFKA_VERSION.jar ]] || die "kafka_2.13-$KAFKA_VERSION.jar missing after fetch"
        # two reload4j versions would fight over the classpath: keep the pinned one
        local j
        for j in "$LIBS"/reload4j-*.jar; do
                [[ $j == */reload4j-$RELOAD4J_VERSION.jar ]] || rm -f "$j"
        done
        log "fetched $(ls "$LIBS" | wc -l) jars in $((SECONDS - t0)) s"
}

# ---------------------------------------------------------------- helpers

# A KRaft cluster id: 16 random bytes, base64url without padding, as
# kafka-storage random-uuid prints it (never starting with '-').
cluster_id() {
        python3 -c '
import base64, uuid
while True:
    s = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    if not s.startswith("-"):
        print(s)
        break'
}

# is_ours PID NODEDIR: the process is a Kafka started from this node dir
# (guards against a pid reused by an unrelated process).
is_ours() {
        local pid=$1 nodedir=$2 cmd
        cmd=$(cmdline "$pid") || return 1
        [[ $cmd == *kafka.Kafka* && $cmd == *"$nodedir/server.properties"* ]]
}

pid_of_node() { awk -v n="$1" '$1 == n { print $2 }' "$DIR/pids" 2>/dev/null || true; }
port_of_node() { awk -v n="$1" '$1 == n { print $2 }' "$DIR/nodes"; }

set_pid() {
        local n=$1 pid=$2 tmp="$DIR/pids.tmp"
        { awk -v n="$n" '$1 != n' "$DIR/pids" 2>/dev/null || true; echo "$n $pid"; } | sort -n >"$tmp"
        mv "$tmp" "$DIR/pids"
}

# Every process of ours in DIR: from the pids file, and any left behind by a
# run whose pids file was lost (matched by the full path of its config).
our_pids() {
        local n pid cmd
        if [[ -f $DIR/pids ]]; then
                while read -r n pid; do
                        is_ours "$pid" "$DIR/node-$n" && echo "$pid"
                done <"$DIR/pids"
        fi
        for pid in $(all_pids); do
                cmd=$(cmdline "$pid") || continue
                [[ $cmd == *kafka.Kafka* && $cmd == *"$DIR/node-"*"/server.properties"* ]] && echo "$pid"
        done
        return 0
}

log_tail() { tail_log "$DIR"/node-*/server.log "$DIR"/node-*/stdout; }

write_node_config() {
        local n=$1 port=$2 cport=$3 voters=$4 nodes=$5 nd="$DIR/node-$1"
        mkdir -p "$nd/data"
        local rf=1 isr=1
        if ((nodes > 1)); then rf=3; isr=2; fi
        cat >"$nd/server.properties" <<EOF
# written by tests/kafka/harness.sh
process.roles=broker,controller
node.id=$n
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$nd/data
num.network.threads=2
num.io.threads=2
num.partitions=3
auto.create.topics.enable=true
delete.topic.enable=true
default.replication.factor=$rf
min.insync.replicas=$isr
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
transaction.state.log.num.partitions=6
group.initial.rebalance.delay.ms=0
log.segment.bytes=104857600
log.retention.hours=24
EOF
        cat >"$nd/log4j.properties" <<EOF
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$nd/server.log
log4j.appender.file.Append=true
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.log.LogCleaner=WARN
log4j.logger.org.apache.kafka.common.utils.AppInfoParser=WARN
EOF
}

classpath() { echo "$LIBS/*"; }

# launch_node N: start node N (see launch); its pid goes into DIR/pids.
launch_node() {
        local n=$1 nd="$DIR/node-$1"
        # shellcheck disable=SC2086
        launch "$nd" "$nd/stdout" "node $n" \
                "$JAVA" $JVM_OPTS -Dlog4j.configuration="file:$nd/log4j.properties" \
                -Dkafka.logs.dir="$nd" -cp "$(classpath)" kafka.Kafka "$nd/server.properties"
        set_pid "$n" "$(cat "$nd/pid")"
}

# ready BOOTSTRAP NODES: the cluster lists all its brokers, and a message
# produced with acks=all to the probe topic is read back.
ready() {
        local bs=$1 want=$2 md count token got
        md=$(timeout 15 "$KCAT" -b "$bs" -L -m 5 2>/dev/null) || return 1
        count=$(sed -n 's/^ *\([0-9]*\) brokers:.*/\1/p' <<<"$md" | head -n 1)
        [[ $count == "$want" ]] || return 1
        token="ready-$$-$RANDOM"
        # idempotent, as partnerbus produces: this also has the controller
        # hand out producer ids before the first test asks for one
        printf '%s\n' "$token" | timeout 30 "$KCAT" -b "$bs" -P -t "$PROBE_TOPIC" -k probe \
                -X acks=all -X enable.idempotence=true -X message.timeout.ms=20000 \
                >/dev/null 2>&1 || return 1
        # read back in a consumer group: creates __consumer_offsets now, not
        # inside the first test that uses a group
        got=$(timeout 60 "$KCAT" -b "$bs" -G "$PROBE_TOPIC-$token" -X auto.offset.reset=earliest \
                -e -q "$PROBE_TOPIC" 2>/dev/null) || return 1
        grep -qx "$token" <<<"$got"
}

# wait_ready BOOTSTRAP NODES: poll until ready, fail early when a node died
# (status 3 when it died because another process had bound its port).
# Each node must also have logged that it started: its ports were free when
# chosen, but a broker started at the same time by another test may have
# taken one, and then *that* broker would answer the readiness probe while
# ours fails to bind and exits.
wait_ready() {
        local bs=$1 nodes=$2 deadline=$((SECONDS + START_TIMEOUT)) n pid up
        while ((SECONDS < deadline)); do
                up=1
                for ((n = 1; n <= nodes; n++)); do
                        pid=$(pid_of_node "$n")
                        if [[ -z $pid ]] || ! kill -0 "$pid" 2>/dev/null; then
                                if grep -q "Address already in use" "$DIR/node-$n/server.log" \
                                        "$DIR/node-$n/stdout" 2>/dev/null; then
                                        log "node $n: a port was taken before it could bind it"
                                        return 3
                                fi
                                log_tail
                                die "node $n (pid ${pid:-?}) exited while starting"
                        fi
                        grep -q "Kafka Server started" "$DIR/node-$n/server.log" 2>/dev/null || up=0
                done
                if ((up)) && ready "$bs" "$nodes"; then
                        return 0
                fi
                sleep 0.5
        done
        log_tail
        die "cluster at $bs not ready after $START_TIMEOUT s"
}

# ---------------------------------------------------------------- commands

do_stop() { stop_ours "$DIR/pids" "$DIR/bootstrap"; }

do_start() {
        local nodes=$1
        [[ $nodes == 1 || $nodes == 3 ]] || { log "--nodes must be 1 or 3"; exit 2; }
        command -v "$JAVA" >/dev/null || die "java not found (apt-get install openjdk-17-jre-headless)"
        command -v "$KCAT" >/dev/null || die "kcat not found (apt-get install kcat)"
        command -v python3 >/dev/null || die "python3 not found"
        mkdir -p "$DIR"
        do_stop # a previous run's brokers in this dir
        fetch
        local t0=$SECONDS attempt rc
        # free ports are chosen before the brokers bind them: when another
        # process takes one in between, start again on other ports
        for attempt in 1 2 3; do
                # not `(...) || rc=$?`: bash ignores set -e in a command
                # whose status is tested, so a failing step would run on
                set +e
                (set -e; start_nodes "$nodes")
                rc=$?
                set -e
                ((rc == 3)) || break
                do_stop
        done
        ((rc != 3)) || die "ports taken by other processes in $attempt attempts"
        ((rc == 0)) || exit "$rc"
        log "ready: $nodes node(s) at $(cat "$DIR/bootstrap") in $((SECONDS - t0)) s"
        cat "$DIR/bootstrap"
}

# start_nodes NODES: format and launch the nodes on fresh ports, wait until
# ready and write DIR/bootstrap; 3 when a port was taken (see wait_ready)
start_nodes() {
        local nodes=$1 ports=() n voters="" id
        rm -rf "$DIR"/node-* "$DIR/nodes" "$DIR/pids"
        mapfile -t ports < <(free_ports $((2 * nodes)))
        for ((n = 1; n <= nodes; n++)); do
                voters+="${voters:+,}$n@127.0.0.1:${ports[2 * n - 1]}"
                echo "$n ${ports[2 * n - 2]} ${ports[2 * n - 1]}" >>"$DIR/nodes"
        done
        id=$(cluster_id)
        echo "$id" >"$DIR/cluster-id"
        local fmt_pids=()
        for ((n = 1; n <= nodes; n++)); do
                write_node_config "$n" "${ports[2 * n - 2]}" "${ports[2 * n - 1]}" "$voters" "$nodes"
                # shellcheck disable=SC2086
                "$JAVA" $JVM_OPTS -cp "$(classpath)" kafka.tools.StorageTool format \
                        -t "$id" -c "$DIR/node-$n/server.properties" \
                        >"$DIR/node-$n/format.log" 2>&1 &
                fmt_pids+=($!)
        done
        for ((n = 1; n <= nodes; n++)); do
                if ! wait "${fmt_pids[n - 1]}"; then
                        cat "$DIR/node-$n/format.log" >&2
                        die "formatting the storage of node $n failed"
                fi
        done
        local bs=""
        for ((n = 1; n <= nodes; n++)); do
                launch_node "$n"
                bs+="${bs:+,}127.0.0.1:${ports[2 * n - 2]}"
        done
        wait_ready "$bs" "$nodes" || return
        echo "$bs" >"$DIR/bootstrap"
}

do_kill_node() {
        local n=$1 pid
        [[ -f $DIR/nodes ]] || die "no cluster in $DIR"
        pid=$(pid_of_node "$n")
        [[ -n $pid ]] || die "no pid recorded for node $n"
        if is_ours "$pid" "$DIR/node-$n"; then
                kill -KILL "$pid"
                for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
                log "node $n (pid $pid) killed"
        else
                log "node $n (pid $pid) was not running"
        fi
}

do_start_node() {
        local n=$1 pid port deadline md
        [[ -f $DIR/node-$n/server.properties ]] || die "node $n has no config in $DIR"
        pid=$(pid_of_node "$n")
        if [[ -n $pid ]] && is_ours "$pid" "$DIR/node-$n"; then
                die "node $n is still running (pid $pid)"
        fi
        fetch
        launch_node "$n"
        port=$(port_of_node "$n")
        # ready when the node itself answers metadata and lists itself
        deadline=$((SECONDS + START_TIMEOUT))
        while ((SECONDS < deadline)); do
                pid=$(pid_of_node "$n")
                kill -0 "$pid" 2>/dev/null || { log_tail; die "node $n exited while starting"; }
                md=$(timeout 15 "$KCAT" -b "127.0.0.1:$port" -L -m 5 -t "$PROBE_TOPIC" 2>/dev/null) || md=""
                if grep -q "broker $n at 127.0.0.1:$port" <<<"$md"; then
                        log "node $n back (pid $pid)"
                        return 0
                fi
                sleep 0.5
        done
        log_tail
        die "node $n not ready after $START_TIMEOUT s"
}

do_status() {
        local n port cport pid state
        [[ -f $DIR/nodes ]] || die "no cluster in $DIR"
        while read -r n port cport; do
                pid=$(pid_of_node "$n")
                state=down
                [[ -n $pid ]] && is_ours "$pid" "$DIR/node-$n" && state=up
                echo "$n ${pid:--} $state 127.0.0.1:$port"
        done <"$DIR/nodes"
}

# ---------------------------------------------------------------- main

[[ $# -ge 1 ]] || usage
cmd=$1
shift
DIR=""
NODES=1
ARGS=()
while [[ $# -gt 0 ]]; do
        case $1 in
        --dir) [[ $# -ge 2 ]] || usage; DIR=$2; shift 2 ;;
        --dir=*) DIR=${1#--dir=}; shift ;;
        --nodes) [[ $# -ge 2 ]] || usage; NODES=$2; shift 2 ;;
        --nodes=*) NODES=${1#--nodes=}; shift ;;
        -h | --help) usage ;;
        -*) log "unknown option $1"; usage ;;
        *) ARGS+=("$1"); shift ;;
        esac
done
use_dir "$cmd"
node_arg() {
        [[ ${#ARGS[@]} -eq 1 && ${ARGS[0]} =~ ^[1-9]$ ]] || { log "$cmd needs a node number"; exit 2; }
        echo "${ARGS[0]}"
}

case $cmd in
fetch) fetch ;;
start) do_start "$NODES" ;;
stop) do_stop ;;
kill-node) do_kill_node "$(node_arg)" ;;
start-node) do_start_node "$(node_arg)" ;;
status) do_status ;;
-h | --help | help) usage ;;
*) log "unknown command $cmd"; usage ;;
esac
