#!/usr/bin/env bash
# bench/admin.sh: time from a token revocation to the first 401 at a
# gateway (issue 12: gateways apply revocations within 5 s, no SIGHUP).
#
#   bench/admin.sh [--build DIR] [--rounds N] [--gateways G]
#
# Starts a broker (tests/kafka/harness.sh; or uses PB_KAFKA_DIR), one
# `partnerbus admin` and G gateways with --admin-topics (default 2). Each
# round issues a publisher token, waits until every gateway accepts it,
# revokes it (DELETE through the API) and polls every gateway over a
# keep-alive connection (a POST with an empty body: 400 while the token is
# valid, 401 once it is revoked; nothing is published) until each answers
# 401. Reports, over N rounds (default 30), the time from sending the
# DELETE to the first 401 at each gateway, and the DELETE's own latency
# (produce with acks=all + read-back by the admin process).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd -P)
source "$ROOT/bench/lib.sh"
BUILD=$ROOT/build
ROUNDS=30
GWS=2
while [[ $# -gt 0 ]]; do
        case $1 in
        --build) BUILD=$2; shift 2 ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        --gateways) GWS=$2; shift 2 ;;
        *) echo "usage: $0 [--build DIR] [--rounds N] [--gateways G]" >&2; exit 2 ;;
        esac
done
BIN=$BUILD/services/partnerbus
[[ -x $BIN ]] || { echo "no $BIN: build first" >&2; exit 1; }
TMP=$(mktemp -d /tmp/pbbench.XXXXXX)
bench_kdir=
PIDS=()
cleanup() {
        local p
        for p in "${PIDS[@]:-}"; do [[ -n $p ]] && kill -TERM "$p" 2>/dev/null || true; done
        wait 2>/dev/null || true
        bench_kafka_stop
        rm -rf "$TMP"
}
trap cleanup EXIT
bench_kafka "$TMP/kafka"
export PARTNERBUS_SCHEMAS=$ROOT/schemas
PFX=bench-admin-$(date +%s)-$$-
OP=op-$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
printf '%s\n' "$OP" >"$TMP/op"
wait_port() { # FILE PID
        local i
        for i in $(seq 200); do
                [[ -s $1 ]] && { cat "$1"; return 0; }
                kill -0 "$2" 2>/dev/null || return 1
                sleep 0.1
        done
        return 1
}
"$BIN" admin serve --brokers "$B" --topic-prefix "$PFX" --listen 127.0.0.1:0 \
        --port-file "$TMP/adm.port" --insecure-http --operator-token-file "$TMP/op" \
        >"$TMP/adm.log" 2>&1 &
PIDS+=("$!")
APORT=$(wait_port "$TMP/adm.port" "$!") || { cat "$TMP/adm.log" >&2; exit 1; }
GPORTS=()
for g in $(seq "$GWS"); do
        "$BIN" gateway --brokers "$B" --topic-prefix "$PFX" --listen 127.0.0.1:0 \
                --port-file "$TMP/gw$g.port" --insecure-http --admin-topics \
                >"$TMP/gw$g.log" 2>&1 &
        PIDS+=("$!")
        GPORTS+=("$(wait_port "$TMP/gw$g.port" "$!")") || { cat "$TMP/gw$g.log" >&2; exit 1; }
done
echo "broker $B, admin :$APORT, gateways ${GPORTS[*]}, rounds $ROUNDS, load $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$APORT" "$OP" "$ROUNDS" "${GPORTS[@]}" <<'PY'
import http.client, json, statistics, sys, time
aport, op, rounds, gports = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), [int(p) for p in sys.argv[4:]]

def admin(method, path, body=None):
    c = http.client.HTTPConnection("127.0.0.1", aport, timeout=30)
    c.request(method, path, body=json.dumps(body) if body is not None else None,
              headers={"Authorization": "Bearer " + op, "Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, json.loads(data or b"{}")

for _ in range(600):  # wait until the admin process read its topics
    try:
        if admin("GET", "/v1/admin/whoami")[0] == 200:
            break
    except OSError:
        pass
    time.sleep(0.1)
st, _ = admin("POST", "/v1/admin/orgs", {"id": "bench-org", "name": "Bench", "kind": "other",
                                        "publish": ["aid.dispatched"]})
assert st == 201, st
conns = {p: http.client.HTTPConnection("127.0.0.1", p, timeout=10) for p in gports}

def probe(p, tok):
    c = conns[p]
    c.request("POST", "/v1/events/aid.dispatched", body=b"",
              headers={"Authorization": "Bearer " + tok, "Content-Type": "application/json"})
    r = c.getresponse()
    r.read()
    return r.status

first401 = {p: [] for p in gports}
deletes = []
for i in range(rounds):
    st, t = admin("POST", "/v1/admin/orgs/bench-org/tokens", {"name": "t%d" % i, "role": "publisher"})
    assert st == 201, st
    for p in gports:  # accepted everywhere first (400: empty body, so authorised)
        deadline = time.monotonic() + 10
        while probe(p, t["token"]) != 400:
            assert time.monotonic() < deadline, "token never accepted"
            time.sleep(0.005)
    t0 = time.monotonic()
    st, _ = admin("DELETE", "/v1/admin/orgs/bench-org/tokens/" + t["id"])
    assert st == 200, st
    deletes.append(time.monotonic() - t0)
    pending = set(gports)
    while pending:
        for p in list(pending):
            if probe(p, t["token"]) == 401:
                first401[p].append(time.monotonic() - t0)
                pending.discard(p)
        assert time.monotonic() - t0 < 30, "no 401 within 30 s"

def line(name, xs):
    xs = sorted(x * 1000 for x in xs)
    p90 = xs[min(len(xs) - 1, int(round(0.9 * (len(xs) - 1))))]
    print("%-34s min %7.1f ms  median %7.1f ms  p90 %7.1f ms  max %7.1f ms" %
          (name, xs[0], statistics.median(xs), p90, xs[-1]))

line("DELETE answered (acks=all+read)", deletes)
for p in gports:
    line("first 401 at gateway :%d" % p, first401[p])
line("first 401 at every gateway", [max(v) for v in zip(*first401.values())])
PY
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
