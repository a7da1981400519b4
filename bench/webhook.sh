#!/usr/bin/env bash
# bench/webhook.sh: single-event webhook deliveries per second, partnerbus
# relay (before and after a change) side by side with a Kafka Connect HTTP
# sink delivering the same topic to the same receiver, interleaved rounds.
#
#   bench/webhook.sh [--events N] [--brokers HOST:PORT] [--bin PARTNERBUS]
#
# Environment:
#   BEFORE_BIN    a second partnerbus binary (e.g. main's build) run in the
#                 same rounds as "before" (left out when unset)
#   PEERS         Kafka Connect peers to run (default "connect"):
#                   connect     bench/connect-sink (built with Maven here):
#                               one POST per record, a kept-alive client
#                   asaint      asaintsever/kafka-connect-http-sink, built
#                               from its source (bench/README.md); its jar
#                               in ASAINT_JAR; event.batch.maxsize=1
#                 "" leaves the peers out
#   PEER_TASKS    Connect tasks (default 3: one per partition)
#   CONNECT_LIBS  directory with the Kafka Connect runtime jars (default:
#                 fetched with Maven from bench/connect/pom.xml into
#                 ~/.cache/partnerbus/connect-3.9.1)
#   ROUNDS        rounds (default 3); each round runs every side once, the
#                 order rotating from round to round
#   RELAY_ARGS    extra relay options for both partnerbus sides
#
# N events of tests/relay/gen_events.py (1,000 keys, "seq=<i> key=<k>" in
# each) are published once to a topic of 3 partitions. Each run gets a fresh
# consumer group and a fresh bench/relay_receiver (libmicrohttpd, answers
# 204), which checks order per key and counts; the rate is the receiver's:
# events over the time from its first to its last request, so no side pays
# for its start-up (group join, JVM). A run ends when the receiver has N
# events (at most 600 s). Prints one line per run and the median (min-max)
# per side, with the load average at the start of each run.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_init 29 "$@"
ROUNDS=${ROUNDS:-3}
PEERS=${PEERS-connect}
PEER_TASKS=${PEER_TASKS:-3}
export PARTNERBUS_WEBHOOK_SECRET=bench-secret

cc -O2 -o "$tmp/recv" "$src/bench/relay_receiver.c" $(pkg-config --cflags --libs libmicrohttpd)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

P=bench-webhook-$(date +%s)-
T=${P}aid.dispatched
kcat -b "$B" -L >/dev/null
"$BIN" produce --help >/dev/null
python3 "$src/tests/relay/gen_events.py" "$N" 1000 --seed bench >"$tmp/ev.jsonl"
"$BIN" produce --brokers "$B" --type aid.dispatched --topic-prefix "$P" <"$tmp/ev.jsonl" >/dev/null 2>&1
echo "# $N aid.dispatched events on $T ($B), $(kcat -b "$B" -L -t "$T" | grep -c 'partition ') partitions"

SIDES="after"
[[ -n ${BEFORE_BIN:-} ]] && SIDES="before $SIDES"
if [[ -n $PEERS ]]; then
        for peer in $PEERS; do SIDES="$SIDES $peer"; done
        CONNECT_LIBS=${CONNECT_LIBS:-${HOME:-/tmp}/.cache/partnerbus/connect-3.9.1}
        if [[ ! -f $CONNECT_LIBS/.done ]]; then
                mkdir -p "$CONNECT_LIBS"
                mvn -B -q -f "$src/bench/connect/pom.xml" dependency:copy-dependencies \
                        -DincludeScope=runtime -DoutputDirectory="$CONNECT_LIBS" >"$tmp/mvn.log" 2>&1 ||
                        { tail -20 "$tmp/mvn.log"; exit 1; }
                touch "$CONNECT_LIBS/.done"
        fi
        if [[ " $PEERS " == *" connect "* ]]; then
                mvn -B -q -f "$src/bench/connect-sink/pom.xml" package -DskipTests >"$tmp/mvn-sink.log" 2>&1 ||
                        { tail -20 "$tmp/mvn-sink.log"; exit 1; }
                CONNECT_JAR=$src/bench/connect-sink/target/partnerbus-bench-http-sink-1.0.jar
        fi
        [[ " $PEERS " != *" asaint "* || -f ${ASAINT_JAR:-} ]] || { echo "webhook.sh: set ASAINT_JAR" >&2; exit 2; }
        cat >"$tmp/log4j.properties" <<'L4J'
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
L4J
fi

recv_field() { sed -n "s/.* $2=\([0-9.]*\).*/\1/p; s/^$2=\([0-9.]*\).*/\1/p" "$1" | head -n 1; }
declare -A RATES LOADS

run_side() { # side round
        local side=$1 round=$2 port pid rpid stats load t0 t1 n=0 deadline
        port=$(free_port)
        stats=$tmp/recv-$side-$round.stats
        "$tmp/recv" "$port" "$stats" & rpid=$!
        sleep 0.3
        load=$(cut -d' ' -f1 /proc/loadavg)
        sync
        t0=$(date +%s.%N)
        case $side in
        before | after)
                local bin=$BIN
                [[ $side == before ]] && bin=$BEFORE_BIN
                "$bin" relay --brokers "$B" --group "${P}$side-$round" --topic-prefix "$P" -t aid.dispatched \
                        --sink "webhook:http://127.0.0.1:$port/hook" --max-events "$N" ${RELAY_ARGS:-} \
                        >/dev/null 2>"$tmp/$side-$round.log" &
                pid=$!
                ;;
        connect | asaint)
                local conv=org.apache.kafka.connect.converters.ByteArrayConverter jar=${CONNECT_JAR:-} props
                if [[ $side == asaint ]]; then
                        conv=org.apache.kafka.connect.storage.StringConverter jar=$ASAINT_JAR
                        props="connector.class=asaintsever.httpsinkconnector.HttpSinkConnector
http.endpoint=http://127.0.0.1:$port/hook
event.batch.maxsize=1
http.request.content.type=application/json"
                else
                        props="connector.class=partnerbus.bench.HttpSinkConnector
http.url=http://127.0.0.1:$port/hook"
                fi
                cat >"$tmp/worker-$side-$round.properties" <<W
bootstrap.servers=$B
key.converter=org.apache.kafka.connect.storage.StringConverter
value.converter=$conv
offset.storage.file.filename=$tmp/connect-offsets-$side-$round
offset.flush.interval.ms=1000
listeners=http://127.0.0.1:$(free_port)
plugin.path=
W
                cat >"$tmp/connector-$side-$round.properties" <<C
name=${P}$side-$round
tasks.max=$PEER_TASKS
topics=$T
consumer.override.auto.offset.reset=earliest
$props
C
                java -Xms256m -Xmx1g -Dlog4j.configuration="file:$tmp/log4j.properties" \
                        -cp "$CONNECT_LIBS/*:$jar" org.apache.kafka.connect.cli.ConnectStandalone \
                        "$tmp/worker-$side-$round.properties" "$tmp/connector-$side-$round.properties" \
                        >"$tmp/$side-$round.log" 2>&1 &
                pid=$!
                ;;
        esac
        deadline=$((SECONDS + 600))
        while ((SECONDS < deadline)); do
                n=$(recv_field "$stats.live" events 2>/dev/null || echo 0)
                [[ ${n:-0} -ge $N ]] && break
                kill -0 $pid 2>/dev/null || { sleep 1.2; break; }
                sleep 0.2
        done
        t1=$(date +%s.%N)
        [[ $side == before || $side == after ]] || kill $pid 2>/dev/null || true
        wait $pid 2>/dev/null || true
        kill -TERM $rpid; wait $rpid || true
        local ev span ino ooo rep rate
        ev=$(recv_field "$stats" events) span=$(recv_field "$stats" span_s)
        ino=$(recv_field "$stats" in_order) ooo=$(recv_field "$stats" out_of_order) rep=$(recv_field "$stats" repeats)
        rate=$(python3 -c "import sys; e,s=float(sys.argv[1]),float(sys.argv[2]); print('%.0f' % (e/s if s > 0 else 0))" "$ev" "$span")
        RATES[$side]+=" $rate"
        LOADS[$side]+=" $load"
        printf '%-7s round %d: %8s deliveries/s  (%s events in %s s at the receiver; wall %.1f s)  in order %s, out of order %s, repeats %s  load %s\n' \
                "$side" "$round" "$rate" "$ev" "$span" "$(echo "$t1 - $t0" | bc)" "$ino" "$ooo" "$rep" "$load"
        [[ $ev -ge $N ]] || echo "#   $side round $round: only $ev of $N events arrived (log: $(tail -n 2 "$tmp/$side-$round.log" | tr '\n' ' '))"
}

read -r -a order <<<"$SIDES"
for ((round = 1; round <= ROUNDS; round++)); do
        for ((i = 0; i < ${#order[@]}; i++)); do
                run_side "${order[$(((i + round - 1) % ${#order[@]}))]}" "$round"
        done
done
echo "# median (min-max) of $ROUNDS rounds, deliveries/s at the receiver; load average (1 min) at the start of each run"
for side in $SIDES; do
        python3 -c "
import statistics, sys
r = sorted(float(x) for x in sys.argv[2].split())
print('%-7s %8.0f (%.0f-%.0f)   load %s' % (sys.argv[1], statistics.median(r), r[0], r[-1], sys.argv[3].strip()))" \
                "$side" "${RATES[$side]}" "${LOADS[$side]}"
done
