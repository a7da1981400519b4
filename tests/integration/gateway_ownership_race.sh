#!/usr/bin/env bash
# gateway_ownership_race.sh: many concurrent single events about new
# entities, two organisations racing for the same ids through two gateways
# (one with --threads 1, poll(); one with 2 epoll threads). Each shipment
# gets four requests at about the same moment -- two from org-a, two from
# org-b, with different bodies, spread over both gateways -- while the
# claims of concurrent requests are produced and read back together
# (pb_owners_claim_async). Expected: every request answered (no hang, no
# 503), per shipment exactly one organisation wins (its two requests 201,
# the other's two 409 not_owner naming it), on both gateways afterwards
# too; in Kafka exactly the winner's two events per shipment, nothing of
# the loser's, nothing twice, each at the partition and offset its answer
# named.
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"
source "$(dirname "$0")/../gateway/lib_gateway.sh"

gw_setup_two_orgs gwrace curl jq python3
# every connection comes from 127.0.0.1
export PARTNERBUS_MAX_CONNECTIONS_PER_ADDRESS=0
gw_start one "${GW_ARGS[@]}" --threads 1
P1=$GW_PORT
O1=$GW_OPS
gw_start two "${GW_ARGS[@]}" --threads 2
P2=$GW_PORT
O2=$GW_OPS
for p in "$O1" "$O2"; do
        [[ -n $p ]] || pb_fail "no ops listener"
        pb_wait_for 60 curl -sf "http://127.0.0.1:$p/readyz" >/dev/null ||
                pb_fail "gateway on ops port $p not ready"
done

N=150
RUN=R$RANDOM$RANDOM
jq -c 'del(.source, .event_id)' \
        "$EXAMPLES/valid/aid.dispatched/generators-bgk-2022-12.json" >"$PB_TMP/event.json"

# race.py PORT1 PORT2 N RUN EVENT OUT: 4 requests per shipment RUN-i (org-a
# and org-b twice each, alternating gateways), all submitted at once to 96
# client threads in an order that interleaves the organisations; writes one
# line per request: id org n code owner (for a 201: partition:offset)
cat >"$PB_TMP/race.py" <<'EOF'
import concurrent.futures as cf, http.client, json, random, sys
p1, p2, n, run, evfile, out = sys.argv[1:7]
ev = json.load(open(evfile))
jobs = []
for i in range(int(n)):
    sid = f"{run}-{i}"
    for k, org in enumerate(("org-a", "org-b", "org-b", "org-a")):
        port = (p1, p2)[(i + k) % 2]
        body = dict(ev, shipment_id=sid, note=f"{org} attempt {k}")
        jobs.append((sid, org, k, port, json.dumps(body)))
random.seed(run)
# shuffle within windows of 64: the four requests of a shipment stay close
for s in range(0, len(jobs), 64):
    w = jobs[s:s + 64]
    random.shuffle(w)
    jobs[s:s + 64] = w
def post(job):
    sid, org, k, port, body = job
    c = http.client.HTTPConnection("127.0.0.1", int(port), timeout=30)
    try:
        c.request("POST", "/v1/events/aid.dispatched", body,
                  {"Authorization": "Bearer tok-" + org,
                   "Content-Type": "application/json"})
        r = c.getresponse()
        code, data = r.status, r.read()
    except Exception as e:  # a hang shows as a timeout
        return f"{sid} {org} {k} ERR -"
    finally:
        c.close()
    owner = "-"
    if code == 409:
        owner = json.loads(data).get("owner", "-")
    elif code == 201:  # where the gateway says it stored the event
        a = json.loads(data)
        owner = f"{a.get('partition')}:{a.get('offset')}"
    else:
        owner = "BODY:" + data.decode(errors="replace").replace(" ", "_")[:300]
    return f"{sid} {org} {k} {code} {owner}"
with cf.ThreadPoolExecutor(96) as ex, open(out, "w") as f:
    for line in ex.map(post, jobs):
        f.write(line + "\n")
EOF
python3 "$PB_TMP/race.py" "$P1" "$P2" "$N" "$RUN" "$PB_TMP/event.json" "$PB_TMP/answers"
[[ $(wc -l <"$PB_TMP/answers") == $((4 * N)) ]] || pb_fail "answers: $(wc -l <"$PB_TMP/answers"), want $((4 * N))"
bad=$(awk '$4 != 201 && $4 != 409' "$PB_TMP/answers" | head -n 5)
[[ -z $bad ]] || pb_fail "requests not answered 201 or 409: $bad"
# per shipment: the winner's two 201, the loser's two 409 naming the winner
python3 - "$PB_TMP/answers" "$N" >"$PB_TMP/winners" <<'EOF'
import sys, collections
by = collections.defaultdict(list)
for line in open(sys.argv[1]):
    sid, org, k, code, owner = line.split()
    by[sid].append((org, int(code), owner))
assert len(by) == int(sys.argv[2]), f"{len(by)} shipments answered"
for sid, rs in sorted(by.items()):
    won = {o for o, c, _ in rs if c == 201}
    lost = {o for o, c, _ in rs if c == 409}
    owners = {w for _, c, w in rs if c == 409}
    if len(won) != 1 or len(lost) != 1 or won == lost or owners != won:
        sys.exit(f"shipment {sid}: {sorted(rs)}")
    print(sid, won.pop())
EOF
a=$(grep -c ' org-a$' "$PB_TMP/winners" || true)
pb_log "ok: $((4 * N)) concurrent requests answered; one owner per shipment (org-a won $a of $N)"

# afterwards, both gateways agree with the race's answers
while read -r sid winner; do
        [[ $winner == org-a ]] && loser=org-b || loser=org-a
        printf '%s %s\n' "$sid" "$loser"
done <"$PB_TMP/winners" | shuf -n 20 --random-source=<(yes) >"$PB_TMP/sample"
while read -r sid loser; do
        jq --arg s "$sid" '.shipment_id = $s' "$PB_TMP/event.json" >"$PB_TMP/again.json"
        for p in "$P1" "$P2"; do
                gw_post "$p" "tok-$loser" aid.dispatched application/json "$PB_TMP/again.json"
                expect_code 409 "after the race, $loser about $sid on port $p"
        done
done <"$PB_TMP/sample"

# Kafka: per shipment exactly the winner's two events, each at the
# partition and offset its 201 named
"$PB_BIN" consume --brokers "$B" --topic-prefix "$PFX" --topics aid.dispatched \
        --from-beginning --meta >"$PB_TMP/stored" 2>"$PB_TMP/consume.err" ||
        { cat "$PB_TMP/consume.err" >&2; pb_fail "consume from ${PFX}aid.dispatched failed"; }
# its warnings (an end of partition below the end at its start) go to the log
cat "$PB_TMP/consume.err" >&2
python3 - "$PB_TMP/winners" "$PB_TMP/answers" "$PB_TMP/stored" "$RUN-" <<'EOF'
import collections, json, sys
win = dict(l.split() for l in open(sys.argv[1]))
at, stored = {}, collections.defaultdict(list)
for l in open(sys.argv[3]):
    m = json.loads(l)
    sid = m["event"]["shipment_id"]
    if sid.startswith(sys.argv[4]):
        at[(m["partition"], m["offset"])] = (sid, m["event"]["source"])
        stored[sid].append(m["event"]["source"])
bad = []
for l in open(sys.argv[2]):
    sid, org, k, code, where = l.split()
    if code != "201":
        continue
    p, o = where.split(":")
    got = at.get((int(p), int(o)))
    if got != (sid, org):
        bad.append(f"{org} attempt {k} on {sid}: answered 201 at partition {p} "
                   f"offset {o}; there: {got}")
for sid, w in win.items():
    if sorted(stored.get(sid, [])) != [w, w]:
        bad.append(f"shipment {sid} in Kafka: {sorted(stored.get(sid, []))}, "
                   f"want 2 events from {w}")
extra = set(stored) - set(win)
if extra:
    bad.append(f"in Kafka but not answered: {sorted(extra)[:5]}")
if bad:
    print(f"{len(at)} events of this run read", file=sys.stderr)
    sys.exit("\n".join(bad[:20]))
EOF
# no claim was answered unsure, on either gateway
for p in "$O1" "$O2"; do
        u=$(curl -sf "http://127.0.0.1:$p/metrics" | awk '$1 == "partnerbus_gateway_owner_unavailable_total" {print $2}')
        [[ $u == 0 ]] || pb_fail "partnerbus_gateway_owner_unavailable_total on ops port $p = '$u', want 0"
done
pb_log "ok: Kafka holds exactly the winners' events, two per shipment; both gateways agree"
