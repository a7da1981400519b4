#!/usr/bin/env bash
# produce_order.sh: `partnerbus produce` on large and mixed input. Checks,
# on the real broker of the kafka fixture:
#   1. a file of 3,000 lines mixing valid events, invalid ones, bad JSON,
#      blank lines and lines over 1 MiB: every rejection is reported with
#      its own line number, in file order, the summary counts are exact,
#      every valid event arrives once and each partition holds its events
#      in file order;
#   2. 60 valid events of ~200 KiB each (16 MiB and more in total): all
#      published, byte-identical and in the input's order;
#   3. lines trickling in through a pipe: all published, exit 0.
# (Written for a two-thread produce, which was measured slower on an idle
# 2-core machine and reverted; bench/README.md, "Produce on two threads".)
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"

pb_require_cmd python3 timeout
B=$(pb_bootstrap)
bin=$(pb_bin)
P=$(pb_topic_name porder).
T=${P}aid.dispatched
pb_tmpdir
ex=$PB_SOURCE_DIR/schemas/examples/valid/aid.dispatched/medical-truck-poltava-2023-03.json

# 1. mixed input; expected.txt: the valid keys in file order,
# rejected.txt: the numbers of the lines to be rejected
python3 - "$ex" "$PB_TMP" <<'PY'
import json, sys, uuid
ev = json.load(open(sys.argv[1], encoding="utf-8"))
d = sys.argv[2]
ns = uuid.UUID("6ba7b811-9dad-11d1-80b4-00c04fd430c8")
lines, keys, rej = [], [], []
for i in range(1, 3001):
    e = dict(ev)
    e["event_id"] = str(uuid.uuid5(ns, "pipe-%d" % i))
    e["shipment_id"] = "PIPE-%07d" % i
    if i % 11 == 0:
        lines.append("   ")
        continue
    if i % 7 == 0:
        e["unexpected"] = 1          # unknown field
        rej.append(i)
    elif i % 13 == 0:
        lines.append('{"event_id": ')  # bad JSON
        rej.append(i)
        continue
    elif i in (500, 2500):
        lines.append('{"note":"' + "x" * (1 << 20) + '"}')  # over 1 MiB
        rej.append(i)
        continue
    else:
        keys.append(e["shipment_id"])
    lines.append(json.dumps(e, ensure_ascii=False, separators=(",", ":")))
open(d + "/mixed.jsonl", "w", encoding="utf-8").write("\n".join(lines) + "\n")
open(d + "/expected.txt", "w").write("\n".join(keys) + "\n")
open(d + "/rejected.txt", "w").write("\n".join(map(str, rej)) + "\n")
PY
nvalid=$(wc -l <"$PB_TMP/expected.txt")
nrej=$(wc -l <"$PB_TMP/rejected.txt")
rc=0
timeout 300 "$bin" produce -t aid.dispatched -b "$B" -p "$P" -f "$PB_TMP/mixed.jsonl" 2>"$PB_TMP/mixed.err" || rc=$?
((rc == 1)) || pb_fail "mixed input: exit $rc, expected 1: $(tail -3 "$PB_TMP/mixed.err")"
[[ $(tail -n 1 "$PB_TMP/mixed.err") == "published $nvalid, rejected $nrej" ]] ||
        pb_fail "mixed input: expected 'published $nvalid, rejected $nrej', got: $(tail -n 1 "$PB_TMP/mixed.err")"
# the line numbers of the reports, in the order printed: the rejected lines,
# in file order (a line may have several reports)
sed -n 's/^line \([0-9]*\): .*/\1/p' "$PB_TMP/mixed.err" | uniq >"$PB_TMP/reported.txt"
cmp -s "$PB_TMP/reported.txt" "$PB_TMP/rejected.txt" ||
        pb_fail "mixed input: reported lines differ from the rejected ones: $(diff "$PB_TMP/rejected.txt" "$PB_TMP/reported.txt" | head -5)"
grep -q '^line 500: line longer than 1048576 bytes$' "$PB_TMP/mixed.err" ||
        pb_fail "mixed input: no report of the over-long line 500"
pb_kcat_consume "$B" "$T" "$nvalid" -e -f '%p %o %k\n' >"$PB_TMP/got.txt"
[[ $(wc -l <"$PB_TMP/got.txt") -eq $nvalid ]] || pb_fail "mixed input: $(wc -l <"$PB_TMP/got.txt") messages, expected $nvalid"
# each key once; within each partition (by offset) in file order
sort -k3 "$PB_TMP/got.txt" | awk '{print $3}' >"$PB_TMP/keys.txt"
sort "$PB_TMP/expected.txt" | cmp -s - "$PB_TMP/keys.txt" || pb_fail "mixed input: the published keys differ from the valid lines' keys"
sort -k1,1n -k2,2n "$PB_TMP/got.txt" | awk '
        $1 == p && $3 <= k { print "partition " $1 ": " $3 " after " k; bad = 1 }
        { p = $1; k = $3 }
        END { exit bad }' >&2 || pb_fail "mixed input: a partition holds events out of file order"
pb_log "mixed input: $nvalid published in order, $nrej rejected with their line numbers"

# 2. large events, 16 MiB and more in total
python3 - "$ex" "$PB_TMP/big.jsonl" <<'PY'
import json, sys, uuid
ev = json.load(open(sys.argv[1], encoding="utf-8"))
ns = uuid.UUID("6ba7b811-9dad-11d1-80b4-00c04fd430c8")
with open(sys.argv[2], "w", encoding="utf-8") as f:
    for i in range(60):
        ev["event_id"] = str(uuid.uuid5(ns, "pipe-big-%d" % i))
        ev["shipment_id"] = "PIPEBIG"                # one key: one partition
        ev["note"] = ("%04d" % i) * 50000            # 200,000 B
        f.write(json.dumps(ev, ensure_ascii=False, separators=(",", ":")) + "\n")
PY
timeout 300 "$bin" produce -t aid.dispatched -b "$B" -p "${P}big." -X message.max.bytes=1000000 \
        -f "$PB_TMP/big.jsonl" 2>"$PB_TMP/big.err" || pb_fail "big events: $(tail -3 "$PB_TMP/big.err")"
grep -qx 'published 60, rejected 0' "$PB_TMP/big.err" || pb_fail "big events: $(tail -1 "$PB_TMP/big.err")"
pb_kcat_consume "$B" "${P}big.aid.dispatched" 60 -e -X fetch.message.max.bytes=2000000 -f '%S\n' >"$PB_TMP/big.sizes"
pb_kcat_consume "$B" "${P}big.aid.dispatched" 60 -e -X fetch.message.max.bytes=2000000 -f '%s\n' |
        grep -ao '\(0[0-9][0-9][0-9]\)\1\1\1\1' | uniq >"$PB_TMP/big.order"
[[ $(wc -l <"$PB_TMP/big.order") -eq 60 ]] || pb_fail "big events: $(wc -l <"$PB_TMP/big.order") distinct notes read back, expected 60"
python3 -c 'import sys; print("\n".join(("%04d" % i) * 5 for i in range(60)))' | cmp -s - "$PB_TMP/big.order" ||
        pb_fail "big events: not in file order"
pb_log "big events: 60 of $(head -1 "$PB_TMP/big.sizes") B published in order"

# 3. input trickling in through a pipe
head -n 20 "$PB_TMP/mixed.jsonl" | grep -v unexpected | grep shipment_id >"$PB_TMP/few.jsonl"
nfew=$(wc -l <"$PB_TMP/few.jsonl")
while IFS= read -r l; do
        printf '%s\n' "$l"
        sleep 0.1
done <"$PB_TMP/few.jsonl" | timeout 120 "$bin" produce -t aid.dispatched -b "$B" -p "${P}few." 2>"$PB_TMP/few.err" ||
        pb_fail "trickle: $(tail -3 "$PB_TMP/few.err")"
grep -qx "published $nfew, rejected 0" "$PB_TMP/few.err" || pb_fail "trickle: $(tail -1 "$PB_TMP/few.err")"
pb_log "trickle: $nfew published"
pb_log "ok"
