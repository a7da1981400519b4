#!/usr/bin/env bash
# bench/serde_callgrind.sh: CPU per event at the serde boundary, counted in
# instructions by callgrind (valgrind --tool=callgrind), which unlike time
# does not depend on the load of a shared machine. Compares two partnerbus
# binaries on identical inputs.
#
#   bench/serde_callgrind.sh BEFORE_BIN AFTER_BIN [N]      (N default 2000)
#
# Starts the embedded broker (`partnerbus broker`, in memory, of AFTER_BIN)
# and, for each binary:
#   gateway single: N events, one per POST (application/json), 4 client
#                   threads over keep-alive connections;
#   gateway batch:  the same N events in POSTs of 500 (application/x-ndjson);
#   gateway malformed: the N events with their last byte cut off, one per
#                   POST (each answered 400 with the parser's error);
#   relay:          drains N events (produced beforehand, the same topic for
#                   both binaries) to the jsonl sink (/dev/null);
#   relay --where:  the same with a filter that reads a field of the event;
#   replay -f avro: the same N events from Kafka to an Avro container file.
# The N events are tests/relay/gen_events.py N 100 --seed serde-callgrind:
# fixed event_ids, so both binaries see the same bytes.
# The gateway's counters are zeroed (callgrind_control -z) once it listens
# and one warm-up event went through, so its figures leave out start-up;
# the relay's include its start-up. Each line gives the total instructions
# (Ir) divided by N, and the inclusive Ir per event of the function that
# holds the boundary (gateway: pb_gw_publish, relay: handle_message,
# replay: out_write).
# Output files stay in $OUT (default: a temporary directory, printed).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd -P)
[[ $# -ge 2 ]] || { echo "usage: $0 BEFORE_BIN AFTER_BIN [N]" >&2; exit 2; }
BEFORE=$(realpath "$1")
AFTER=$(realpath "$2")
N=${3:-2000}
for b in "$BEFORE" "$AFTER"; do [[ -x $b ]] || { echo "$b: not executable" >&2; exit 1; }; done
command -v valgrind >/dev/null || { echo "valgrind not found" >&2; exit 1; }
OUT=${OUT:-$(mktemp -d /tmp/pbserdecg.XXXXXX)}
mkdir -p "$OUT"
export PARTNERBUS_SCHEMAS=${PARTNERBUS_SCHEMAS:-$ROOT/schemas}
BROKER=""
GW=""
cleanup() {
        [[ -n $GW ]] && kill -TERM "$GW" 2>/dev/null && wait "$GW" 2>/dev/null
        [[ -n $BROKER ]] && kill -TERM "$BROKER" 2>/dev/null && wait "$BROKER" 2>/dev/null
        return 0
}
trap cleanup EXIT

"$AFTER" broker --bootstrap-file "$OUT/bootstrap" >/dev/null 2>"$OUT/broker.log" &
BROKER=$!
for _ in $(seq 100); do [[ -s $OUT/bootstrap ]] && break; sleep 0.1; done
B=$(cat "$OUT/bootstrap")
python3 "$ROOT/tests/relay/gen_events.py" "$N" 100 --seed serde-callgrind >"$OUT/events.jsonl"
TOKEN=bench-token
printf 'blau-gelbes-kreuz %s *\n' "$(printf %s "$TOKEN" | sha256sum | cut -d' ' -f1)" >"$OUT/tokens"
RUN=$$

# post MODE PORT: sends $OUT/events.jsonl, fails unless every answer is 2xx
# (malformed: 4xx)
post() {
        python3 - "$1" "$2" "$TOKEN" "$OUT/events.jsonl" <<'EOF'
import http.client, sys, threading
mode, port, token, path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
lines = [l for l in open(path, "rb").read().split(b"\n") if l]
want = 2
if mode == "single":
    bodies, ctype, nthreads = lines, "application/json", 4
elif mode == "malformed":  # the last byte cut off: a syntax error, 400
    bodies, ctype, nthreads, want = [l[:-1] for l in lines], "application/json", 4, 4
else:
    bodies = [b"\n".join(lines[i:i + 500]) + b"\n" for i in range(0, len(lines), 500)]
    ctype, nthreads = "application/x-ndjson", 1
bad = []
def work(t):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    for body in bodies[t::nthreads]:
        c.request("POST", "/v1/events/aid.dispatched", body,
                  {"Authorization": "Bearer " + token, "Content-Type": ctype})
        r = c.getresponse()
        data = r.read()
        if r.status // 100 != want:
            bad.append((r.status, data[:200]))
th = [threading.Thread(target=work, args=(t,)) for t in range(nthreads)]
[t.start() for t in th]
[t.join() for t in th]
if bad:
    sys.exit("gateway answered %d unexpected, first: %r" % (len(bad), bad[0]))
EOF
}

# total Ir of a callgrind output, and the inclusive Ir of a function
total_ir() { awk '/^summary:/ {print $2}' "$1"; }
incl_ir() {
        callgrind_annotate --inclusive=yes --threshold=100 "$1" 2>/dev/null |
                awk -v f="$2" '!done && ($0 ~ (":" f " ") || $0 ~ (":" f "$")) {gsub(",", "", $1); print $1; done = 1}'
}
report() { # LABEL WHAT FILE FUNCTION
        local t i
        t=$(total_ir "$3")
        i=$(incl_ir "$3" "$4")
        printf '%-8s %-16s total %14s Ir  %9.0f Ir/event   %s %9.0f Ir/event\n' "$1" "$2" "$t" \
                "$(echo "$t / $N" | bc -l)" "$4" "$(echo "${i:-0} / $N" | bc -l)"
}

gateway() { # LABEL BIN MODE
        local label=$1 bin=$2 mode=$3 cg=$OUT/gw-$1-$3.cg port
        rm -f "$OUT/port"
        valgrind --tool=callgrind --callgrind-out-file="$cg" "$bin" gateway --brokers "$B" \
                --tokens "$OUT/tokens" --insecure-http --listen 127.0.0.1:0 --port-file "$OUT/port" \
                --rate 0 --topic-prefix "cg-$RUN-$label-$mode-" --max-batch-events 1000 \
                --log-level warn 2>"$OUT/gw-$label-$mode.log" &
        GW=$!
        for _ in $(seq 600); do [[ -s $OUT/port ]] && break; sleep 0.2; done
        port=$(cat "$OUT/port")
        # warm-up (creates the topic; answered 503 until the ownership map
        # is loaded), then zero the counters
        local ok=0
        for _ in $(seq 120); do
                curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
                        --data-binary "$(jq -c 'del(.event_id)' "$ROOT/schemas/examples/valid/aid.dispatched/generators-bgk-2022-12.json")" \
                        "http://127.0.0.1:$port/v1/events/aid.dispatched" && { ok=1; break; }
                sleep 0.5
        done
        ((ok)) || { echo "gateway ($label) never accepted the warm-up event" >&2; exit 1; }
        callgrind_control -z "$GW" >/dev/null
        post "$mode" "$port"
        kill -TERM "$GW"
        wait "$GW" || true
        GW=""
        report "$label" "gateway $mode" "$cg" pb_gw_publish
}

relay() { # LABEL BIN NAME ARGS...
        local label=$1 bin=$2 name=$3 cg=$OUT/relay-$1-$3.cg
        shift 3
        valgrind --tool=callgrind --callgrind-out-file="$cg" "$bin" relay --brokers "$B" \
                --group "cg-$RUN-$label-$name" --topic-prefix "cg-$RUN-relay-" -t aid.dispatched \
                --sink jsonl:/dev/null --jsonl-max-size 0 --max-events "$N" "$@" \
                2>"$OUT/relay-$label-$name.log" >/dev/null
        report "$label" "relay $name" "$cg" handle_message
}

replay_avro() { # LABEL BIN
        local label=$1 bin=$2 cg=$OUT/replay-$1-avro.cg
        valgrind --tool=callgrind --callgrind-out-file="$cg" "$bin" replay --brokers "$B" \
                --topic-prefix "cg-$RUN-relay-" -t aid.dispatched -f avro -o "$OUT/replay-$label.avro" \
                2>"$OUT/replay-$label.log"
        report "$label" "replay -f avro" "$cg" out_write
}

"$AFTER" produce --brokers "$B" --type aid.dispatched --topic-prefix "cg-$RUN-relay-" \
        <"$OUT/events.jsonl" >/dev/null 2>"$OUT/produce.log"
echo "# $N events per run; broker $B; output in $OUT"
for label in before after; do
        bin=$BEFORE
        [[ $label == after ]] && bin=$AFTER
        gateway "$label" "$bin" single
        gateway "$label" "$bin" batch
        gateway "$label" "$bin" malformed
        relay "$label" "$bin" jsonl
        relay "$label" "$bin" where --where 'destination.oblast!=nowhere'
        replay_avro "$label" "$bin"
done
