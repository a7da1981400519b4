#!/usr/bin/env bash
# bench/soak.sh: the soak with faults (issue 11). Not part of CI.
#
#   bench/soak.sh [--minutes 10] [--rate 40] [--bin PATH] [--archive-size 48m] [--keep]
#
# Mixed load (the four event types, tests/cluster/loadgen.py: every event
# its own event_id, retried with the same id on 5xx or a failed
# connection) through two gateways -> a three-node Kafka (replication 3,
# min.insync.replicas 2) -> two relays: a webhook relay to a receiver that
# fails 10% of requests (bench/soak_receiver.py, fixed seed) and an archive
# relay writing to a tmpfs of --archive-size. Faults, relative to the start
# of the load (D = the run's length):
#   - every 120 s from 60 s: the broker leading most partitions SIGKILLed,
#     restarted 20 s later;
#   - at D*25%: the archive's filesystem filled up (a file written until
#     ENOSPC), space given back min(60 s, D*15%) later;
#   - at D*35%: the webhook relay SIGKILLed; at D*55%: gateway 1 SIGKILLed.
# Every service runs under a supervisor loop that restarts it 2 s after it
# exits (as systemd's Restart=on-failure would), on the same port.
# At the end (after the group lag is 0) it prints: events lost (answered
# 2xx but missing from Kafka, the archive or the webhook receiver),
# duplicates by event id (copies that consumers remove by event_id), p50 /
# p99 / max publish latency of the 2xx answers, peak RSS (VmHWM) per
# process, and what the faults did. Needs root (tmpfs), kcat, python3 and
# the test venv (tests/python/requirements.txt).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd -P)
MIN=10 RATE=40 ARCH_SIZE=48m KEEP=
BIN=${PB_BIN:-$src/build/services/partnerbus}
while (($#)); do
        case $1 in
        --minutes) MIN=$2; shift 2 ;;
        --rate) RATE=$2; shift 2 ;;
        --bin) BIN=$2; shift 2 ;;
        --archive-size) ARCH_SIZE=$2; shift 2 ;;
        --keep) KEEP=1; shift ;;
        -h | --help) sed -n '2,25p' "$0"; exit 0 ;;
        *) echo "soak: unknown option $1" >&2; exit 2 ;;
        esac
done
[[ -x $BIN ]] || { echo "soak: partnerbus binary $BIN not found (--bin)" >&2; exit 1; }
((EUID == 0)) || { echo "soak: needs root (mounts a tmpfs for the archive)" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pbsoak.XXXXXX")
export PB_SOURCE_DIR=$src PB_BIN=$BIN PB_KAFKA3_DIR=$tmp/kafka3
export PARTNERBUS_SCHEMAS=${PARTNERBUS_SCHEMAS:-$src/schemas}
# shellcheck source=../tests/kafka/lib.sh
source "$src/tests/kafka/lib.sh"
pb_require_cmd kcat curl python3 sha256sum mount umount
CL=$src/tests/cluster
PY=$(pb_python_venv)
TYPES=aid.dispatched,partnership.founded,funds.granted,aid.delivered
ORG=soak-org
RUN=soak$(date +%s)-$$
D=$((MIN * 60))
N=$((RATE * D))
ARCH_MNT=$tmp/archfs
ARCH=$ARCH_MNT/archive
mkdir -p "$ARCH_MNT"
SUPS=()

cleanup() {
        local rc=$? s
        touch "$tmp/stop"
        for s in gw1 gw2 relay-webhook relay-archive receiver; do
                [[ -s $tmp/$s.pid ]] && kill -TERM "$(cat "$tmp/$s.pid")" 2>/dev/null || true
        done
        [[ -n ${SAMPLER:-} ]] && kill "$SAMPLER" 2>/dev/null || true
        [[ -n ${LOAD_PID:-} ]] && kill "$LOAD_PID" 2>/dev/null || true
        wait 2>/dev/null || true
        pb_stop_cluster3
        mountpoint -q "$ARCH_MNT" && umount "$ARCH_MNT"
        if [[ -n $KEEP ]]; then pb_log "kept $tmp"; else rm -rf "$tmp"; fi
        exit "$rc"
}
trap cleanup EXIT
T0=$SECONDS
el() { echo $((SECONDS - T0)); }

# supervise NAME CMD...: run CMD (log NAME.log, pid in NAME.pid); when it
# exits, note it in NAME.exits and start it again 2 s later, until stop
supervise() {
        local name=$1 rc
        shift
        while [[ ! -e $tmp/stop ]]; do
                "$@" >>"$tmp/$name.log" 2>&1 &
                echo $! >"$tmp/$name.pid"
                rc=0
                wait $! || rc=$?
                [[ -e $tmp/stop ]] && break
                echo "$(($(date +%s) - START_EPOCH)) rc=$rc" >>"$tmp/$name.exits"
                sleep 2
        done
}
START_EPOCH=$(date +%s)

# --------------------------------------------------------------- Kafka
mount -t tmpfs -o "size=$ARCH_SIZE" tmpfs "$ARCH_MNT"
mkdir -p "$ARCH"
DIR=$(pb_cluster3_dir)
B=$(pb_start_cluster3)
"$PY" "$CL/check.py" create-topics --brokers "$B" --topics "$TYPES" --partitions 3 --rf 3 >&2
pb_log "[$(el)s] three-node cluster $B; archive on a tmpfs of $ARCH_SIZE"

# --------------------------------------------------------------- services
read -r GP1 GP2 < <(python3 -c 'import socket
ss=[socket.socket() for _ in range(2)]
[s.bind(("127.0.0.1",0)) for s in ss]
print(*[s.getsockname()[1] for s in ss])')
TOKEN=tok-$RUN-$RANDOM$RANDOM
printf %s "$TOKEN" >"$tmp/token"
printf '%s %s *\n' "$ORG" "$(printf %s "$TOKEN" | sha256sum | cut -d' ' -f1)" >"$tmp/tokens"
gw() { # N PORT EXTRA...
        local n=$1 port=$2
        shift 2
        supervise "gw$n" "$BIN" gateway --brokers "$B" --tokens "$tmp/tokens" --insecure-http \
                --listen "127.0.0.1:$port" --rate 0 --openapi "$src/docs/openapi.json" "$@" &
        SUPS+=($!)
}
gw 1 "$GP1"
gw 2 "$GP2" --publish-timeout 3s
for p in "$GP1" "$GP2"; do
        pb_wait_for 90 curl -sf -o /dev/null "http://127.0.0.1:$p/readyz"
done

python3 "$src/bench/soak_receiver.py" --port-file "$tmp/recv.port" --out "$tmp/received.txt" \
        --fail 0.10 2>"$tmp/receiver.log" &
echo $! >"$tmp/receiver.pid"
pb_wait_for 20 test -s "$tmp/recv.port"
supervise relay-webhook "$BIN" relay --brokers "$B" --group soak-webhook --topics "$TYPES" \
        --sink "webhook:http://127.0.0.1:$(cat "$tmp/recv.port")/events" --webhook-allow-unsigned \
        --commit-interval 1s &
SUPS+=($!)
supervise relay-archive "$BIN" relay --brokers "$B" --group soak-archive --topics "$TYPES" \
        --sink "archive:$ARCH" --commit-interval 1s &
SUPS+=($!)
pb_log "[$(el)s] gateways on $GP1 $GP2; webhook relay -> receiver (fails 10%); archive relay -> $ARCH"

# peak RSS: VmHWM of every process, sampled every 2 s (a restarted
# process is a new one: its peak counts too)
(
        while [[ ! -e $tmp/stop ]]; do
                for s in gw1 gw2 relay-webhook relay-archive; do
                        pid=$(cat "$tmp/$s.pid" 2>/dev/null) || continue
                        kb=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null) || continue
                        [[ -n $kb ]] && echo "$s $kb"
                done
                while read -r n pid; do
                        kb=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null) || continue
                        [[ -n $kb ]] && echo "broker$n $kb"
                done <"$DIR/pids"
                sleep 2
        done >>"$tmp/rss.txt"
) &
SAMPLER=$!

# --------------------------------------------------------------- load + faults
"$PY" "$CL/loadgen.py" --gateways "http://127.0.0.1:$GP1,http://127.0.0.1:$GP2" \
        --token-file "$tmp/token" --org "$ORG" --run "$RUN" \
        --examples "$src/schemas/examples/valid" --count "$N" --rate "$RATE" \
        --out "$tmp/answers.jsonl" --progress 30 2>"$tmp/loadgen.log" &
LOAD_PID=$!
L0=$SECONDS
pb_log "[$(el)s] load: $N events at $RATE/s for $MIN min through both gateways"
FILL=$((D * 25 / 100))
FREE_AFTER=$((D * 15 / 100 < 60 ? D * 15 / 100 : 60))
plan=()
for ((t = 60; t <= D - 40; t += 120)); do
        plan+=("$t kill_broker" "$((t + 20)) start_broker")
done
plan+=("$FILL fill" "$((FILL + FREE_AFTER)) unfill" "$((D * 35 / 100)) kill_relay" "$((D * 55 / 100)) kill_gateway")
FAULTS=()
VICTIM=
while read -r t what; do
        d=$((t - (SECONDS - L0)))
        ((d <= 0)) || sleep "$d"
        case $what in
        kill_broker)
                VICTIM=$("$PY" "$CL/check.py" leaders --brokers "$B" --topics "$TYPES" | awk 'NR == 1 {print $1}')
                "$PB_HARNESS" kill-node --dir "$DIR" "$VICTIM"
                FAULTS+=("${t}s:SIGKILL-broker$VICTIM") ;;
        start_broker)
                "$PB_HARNESS" start-node --dir "$DIR" "$VICTIM" >&2 || pb_log "broker $VICTIM did not restart"
                FAULTS+=("${t}s:restart-broker$VICTIM") ;;
        fill)
                dd if=/dev/zero of="$ARCH_MNT/filler" bs=64k 2>/dev/null || true
                FAULTS+=("${t}s:archive-fs-full($(df --output=avail -k "$ARCH_MNT" | tail -n 1 | tr -d ' ')KiB-free)") ;;
        unfill)
                rm -f "$ARCH_MNT/filler"
                FAULTS+=("${t}s:archive-fs-space-back") ;;
        kill_relay)
                kill -KILL "$(cat "$tmp/relay-webhook.pid")"
                FAULTS+=("${t}s:SIGKILL-webhook-relay") ;;
        kill_gateway)
                kill -KILL "$(cat "$tmp/gw1.pid")"
                FAULTS+=("${t}s:SIGKILL-gateway1") ;;
        esac
        pb_log "[$(el)s] fault: ${FAULTS[-1]}"
done < <(printf '%s\n' "${plan[@]}" | sort -n)

wait "$LOAD_PID" || pb_fail "load generator failed: $(tail -n 3 "$tmp/loadgen.log")"
LOAD_PID=
pb_log "[$(el)s] load done: $(tail -n 1 "$tmp/loadgen.log")"

# --------------------------------------------------------------- catch up
# (at most 10 minutes; the figures are printed either way)
for g in soak-webhook soak-archive; do
        until "$PY" "$CL/check.py" lag --brokers "$B" --group "$g" --topics "$TYPES" >"$tmp/lag-$g.txt" 2>&1; do
                ((SECONDS - L0 < D + 600)) || { pb_log "group $g did not catch up"; break; }
                sleep 2
        done
        pb_log "[$(el)s] $g: $(tail -n 1 "$tmp/lag-$g.txt")"
done
touch "$tmp/stop"
for s in relay-webhook relay-archive gw1 gw2 receiver; do
        kill -TERM "$(cat "$tmp/$s.pid")" 2>/dev/null || true
done
wait "${SUPS[@]}" 2>/dev/null || true
kill "$SAMPLER" 2>/dev/null || true
SAMPLER=

# --------------------------------------------------------------- figures
timeout 600 "$BIN" consume --brokers "$B" --topics "$TYPES" --from-beginning --meta \
        >"$tmp/consumed.jsonl" 2>"$tmp/consume.log" || pb_fail "consume failed: $(tail -n 3 "$tmp/consume.log")"
dlq=0
for t in $(timeout 30 kcat -b "$B" -L 2>/dev/null | sed -n 's/^ *topic "\(.*\.dlq\)".*/\1/p'); do
        dlq=$((dlq + $(timeout 60 kcat -b "$B" -C -t "$t" -e -q -f 'x\n' 2>/dev/null | wc -l)))
done
"$PY" "$CL/check.py" verify --answers "$tmp/answers.jsonl" --topics-dump "$tmp/consumed.jsonl" \
        --archive "$ARCH" --examples "$src/schemas/examples/valid" --run "$RUN" --org "$ORG" \
        --count "$N" >"$tmp/verify.txt" 2>&1 || true
sed 's/^/  verify: /' "$tmp/verify.txt" >&2
python3 - "$tmp" "$dlq" "$MIN" "$RATE" "${FAULTS[*]}" <<'PY'
import collections, json, os, sys
tmp, dlq, minutes, rate, faults = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
acked, lat = set(), []
for line in open(os.path.join(tmp, "answers.jsonl")):
    r = json.loads(line)
    if r.get("final"):
        continue
    if isinstance(r["status"], int) and 200 <= r["status"] < 300:
        acked.add(r["event_id"])
        lat.append(r.get("ms", 0))
kafka = collections.Counter()
for line in open(os.path.join(tmp, "consumed.jsonl")):
    kafka[json.loads(line)["event"].get("event_id")] += 1
hook = collections.Counter(l.strip() for l in open(os.path.join(tmp, "received.txt")) if l.strip())
v = open(os.path.join(tmp, "verify.txt")).read()
def field(name):
    import re
    m = re.search(r"\b%s=(\d+)" % name, v)
    return int(m.group(1)) if m else -1
lost_kafka = len(acked - set(kafka))
lost_archive = field("archive_missing")
lost_hook = len(set(kafka) - set(hook))
lat.sort()
def pct(p):
    return lat[min(len(lat) - 1, int(p * len(lat)))] if lat else -1
rss = collections.defaultdict(int)
for line in open(os.path.join(tmp, "rss.txt")):
    n, kb = line.split()
    rss[n] = max(rss[n], int(kb))
exits = {}
for s in ("gw1", "gw2", "relay-webhook", "relay-archive"):
    p = os.path.join(tmp, s + ".exits")
    exits[s] = open(p).read().split("\n")[:-1] if os.path.exists(p) else []
recv = open(os.path.join(tmp, "receiver.log")).read().strip()
print("soak: minutes=%s rate=%s/s events=%d answered_2xx=%d" % (minutes, rate, field("events"), len(acked)))
print("lost=%d (not in Kafka %d, not archived %d, not at the webhook %d) dead_letters=%d" % (
    lost_kafka + max(lost_archive, 0) + lost_hook, lost_kafka, lost_archive, lost_hook, dlq))
print("duplicated: in Kafka %d event ids stored twice or more; redelivered copies removed by event-id dedup: archive %d, webhook %d" % (
    sum(1 for c in kafka.values() if c > 1), field("archive_duplicates_before_dedup"), sum(c - 1 for c in hook.values())))
print("publish latency of 2xx answers (ms): p50=%.0f p99=%.0f max=%.0f (n=%d)" % (pct(0.5), pct(0.99), lat[-1] if lat else -1, len(lat)))
print("peak RSS (VmHWM, MiB): " + " ".join("%s=%.0f" % (n, rss[n] / 1024) for n in sorted(rss)))
print("faults: " + faults)
print("restarts by the supervisor (s since start, exit status): " + "; ".join("%s: %s" % (s, ", ".join(e) or "none") for s, e in exits.items()))
print(recv)
PY
