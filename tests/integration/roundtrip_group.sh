#!/usr/bin/env bash
# roundtrip_group.sh: two `partnerbus consume --group G` processes share the
# partitions of a topic on the real broker: together they print every event
# exactly once, each from its own partitions; a third run of the group
# afterwards finds nothing left (the commits, including those made when
# partitions were revoked at the second member's join, held).
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"
source "$(dirname "$0")/roundtrip_common.bash"

pb_require_cmd python3 timeout
B=$(pb_bootstrap)
bin=$(pb_bin)
P=$(pb_topic_name grp).
t=aid.dispatched G=g-$P
pb_tmpdir

# 30 distinct events (own event_id and key) from the first example
python3 - "$PB_SOURCE_DIR/schemas/examples/valid/$t" >"$PB_TMP/all.in" <<'PY'
import glob, json, sys, uuid
ev = json.load(open(sorted(glob.glob(sys.argv[1] + "/*.json"))[0], encoding="utf-8"))
for i in range(30):
    ev["event_id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, "grp-%d" % i))
    ev["shipment_id"] = "GRP-%02d" % i
    print(json.dumps(ev, separators=(",", ":"), ensure_ascii=False))
PY
# the first event creates the topic, so both members subscribe to it
head -n 1 "$PB_TMP/all.in" | "$bin" produce -t "$t" -b "$B" -p "$P" 2>/dev/null || pb_fail "produce failed"
for m in a b; do
        timeout --preserve-status -s INT 40 "$bin" consume -t "$t" -b "$B" -p "$P" -g "$G" \
                --from-beginning --meta >"$PB_TMP/$m.out" 2>"$PB_TMP/$m.err" &
        eval "pid_$m=$!"
done
sleep 12 # both joined
tail -n +2 "$PB_TMP/all.in" | "$bin" produce -t "$t" -b "$B" -p "$P" 2>/dev/null || pb_fail "produce failed"
wait "$pid_a" || pb_fail "member a failed: $(cat "$PB_TMP/a.err")"
wait "$pid_b" || pb_fail "member b failed: $(cat "$PB_TMP/b.err")"
python3 - "$PB_TMP/a.out" "$PB_TMP/b.out" "$PB_TMP/all.in" <<'PY' || pb_fail "the members did not share the partitions"
import json, sys
a = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
b = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")]
want = sorted(l.rstrip("\n") for l in open(sys.argv[3], encoding="utf-8"))
got = sorted(json.dumps(r["event"], separators=(",", ":"), ensure_ascii=False) for r in a + b)
assert got == want, f"{len(got)} events printed, expected {len(want)} each once"
# GRP-00 may have been read before the second member joined, from a
# partition that then moved: look at the events published after the join
late = lambda rs: {r["partition"] for r in rs if r["key"] != "GRP-00"}
pa, pb = late(a), late(b)
print(f"member a: {len(a)} events from partitions {sorted(pa)}; member b: {len(b)} from {sorted(pb)}", file=sys.stderr)
assert a and b, "one member got nothing"
assert not (pa & pb), "a partition was read by both members"
PY
rc=0
timeout --preserve-status -s INT 20 "$bin" consume -t "$t" -b "$B" -p "$P" -g "$G" --from-beginning \
        >"$PB_TMP/c.out" 2>"$PB_TMP/c.err" || rc=$?
((rc == 0)) || pb_fail "third run exit $rc"
[[ ! -s $PB_TMP/c.out ]] || pb_fail "third run of the group re-read $(wc -l <"$PB_TMP/c.out") events"
pb_log "ok"
