# roundtrip_common.bash: the body shared by roundtrip_kafka.sh (real Apache
# Kafka) and roundtrip_embedded.sh (partnerbus broker). Sourced, not run
# (not a *.sh, so ctest does not pick it up as a test).
#
# pb_roundtrip BOOTSTRAP PREFIX [-X k=v ...]
#   1. every schemas/examples/valid/<type>/*.json, compacted to one line, is
#      published with `partnerbus produce` to PREFIX<type>;
#   2. every schemas/examples/invalid/<type>/*.json is rejected by produce
#      with the pointer and message of its .error file, and not published;
#   3. `consume --from-beginning` prints exactly the compacted valid events,
#      byte for byte (sorted: partitions interleave);
#   4. `consume --meta` carries the CloudEvents headers and the key;
#   5. a consumer group commits: a second run of the group sees only what
#      was published after the first run.

pb_compact() { # FILE: one line of canonical compact JSON
        python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1], encoding="utf-8")), separators=(",", ":"), ensure_ascii=False))' "$1"
}

pb_roundtrip() {
        local B=$1 P=$2
        shift 2
        local X=("$@") bin ex=$PB_SOURCE_DIR/schemas/examples
        bin=$(pb_bin)
        local types=() t f n
        for d in "$ex"/valid/*/; do types+=("$(basename "$d")"); done
        ((${#types[@]} == 4)) || pb_fail "expected 4 event types with valid examples, found ${#types[@]}"

        for t in "${types[@]}"; do
                # --- valid examples
                : >"$PB_TMP/$t.in"
                for f in "$ex/valid/$t"/*.json; do pb_compact "$f" >>"$PB_TMP/$t.in"; done
                n=$(wc -l <"$PB_TMP/$t.in")
                ((n > 0)) || pb_fail "no valid examples for $t"
                "$bin" produce -t "$t" -b "$B" -p "$P" "${X[@]}" <"$PB_TMP/$t.in" 2>"$PB_TMP/$t.produce.err" ||
                        pb_fail "produce of the valid $t examples failed: $(cat "$PB_TMP/$t.produce.err")"
                grep -qx "published $n, rejected 0" "$PB_TMP/$t.produce.err" ||
                        pb_fail "produce $t: expected 'published $n, rejected 0', got: $(cat "$PB_TMP/$t.produce.err")"

                # --- invalid examples: one per line, in file order
                local inv=("$ex/invalid/$t"/*.json) i=0 rc=0
                if [[ -e ${inv[0]} ]]; then
                        for f in "${inv[@]}"; do tr '\n' ' ' <"$f"; echo; done >"$PB_TMP/$t.bad"
                        "$bin" produce -t "$t" -b "$B" -p "$P" "${X[@]}" <"$PB_TMP/$t.bad" 2>"$PB_TMP/$t.bad.err" || rc=$?
                        ((rc == 1)) || pb_fail "produce of invalid $t examples: exit $rc, expected 1"
                        grep -qx "published 0, rejected ${#inv[@]}" "$PB_TMP/$t.bad.err" ||
                                pb_fail "produce invalid $t: expected 'published 0, rejected ${#inv[@]}', got: $(tail -n 1 "$PB_TMP/$t.bad.err")"
                        for f in "${inv[@]}"; do
                                i=$((i + 1))
                                local ptr msg lines
                                ptr=$(sed -n 1p "${f%.json}.error")
                                msg=$(sed -n 2p "${f%.json}.error")
                                if [[ -n $ptr ]]; then
                                        lines=$(grep -F "line $i: $ptr: " "$PB_TMP/$t.bad.err" || true)
                                else
                                        lines=$(grep -E "^line $i: [^/]" "$PB_TMP/$t.bad.err" || true)
                                fi
                                grep -qF -- "$msg" <<<"$lines" ||
                                        pb_fail "$(basename "$f"): expected 'line $i: ${ptr:+$ptr: }...$msg...', got: $(grep "^line $i: " "$PB_TMP/$t.bad.err")"
                        done
                        pb_log "$t: ${#inv[@]} invalid examples rejected with their errors"
                fi

                # --- read back: exactly the valid events, byte for byte
                timeout 120 "$bin" consume -t "$t" -b "$B" -p "$P" --from-beginning "${X[@]}" \
                        >"$PB_TMP/$t.out" 2>"$PB_TMP/$t.consume.err" ||
                        pb_fail "consume $t failed: $(cat "$PB_TMP/$t.consume.err")"
                sort "$PB_TMP/$t.in" >"$PB_TMP/$t.in.sorted"
                sort "$PB_TMP/$t.out" >"$PB_TMP/$t.out.sorted"
                cmp -s "$PB_TMP/$t.in.sorted" "$PB_TMP/$t.out.sorted" || {
                        diff -u "$PB_TMP/$t.in.sorted" "$PB_TMP/$t.out.sorted" >&2 || true
                        pb_fail "$t: consumed events differ from the published ones"
                }
                pb_log "$t: $n events round-tripped byte-exact"

                # --- --meta: CloudEvents headers and key match the event
                timeout 120 "$bin" consume -t "$t" -b "$B" -p "$P" --from-beginning --meta "${X[@]}" \
                        >"$PB_TMP/$t.meta" 2>"$PB_TMP/$t.meta.err" ||
                        pb_fail "consume --meta $t failed: $(cat "$PB_TMP/$t.meta.err")"
                python3 - "$PB_TMP/$t.meta" "$t" "$P$t" "$PB_SOURCE_DIR/schemas/$t.avsc" "$n" <<'PY' || pb_fail "$t: --meta output wrong"
import json, sys
path, typ, topic, avsc, n = sys.argv[1:6]
key_field = json.load(open(avsc, encoding="utf-8"))["partnerbus.key"]
rows = [json.loads(l) for l in open(path, encoding="utf-8")]
assert len(rows) == int(n), f"{len(rows)} rows, expected {n}"
for r in rows:
    ev, h = r["event"], r["headers"]
    assert r["topic"] == topic, r["topic"]
    assert isinstance(r["partition"], int) and isinstance(r["offset"], int)
    assert isinstance(r["timestamp"], str) and r["timestamp"].endswith("Z")
    assert r["key"] == ev[key_field], (r["key"], ev[key_field])
    want = {"ce_specversion": "1.0", "ce_id": ev["event_id"], "ce_source": ev["source"],
            "ce_type": typ, "ce_time": ev["occurred_at"], "content-type": "application/avro"}
    assert h == want, (h, want)
PY
        done

        # --- consumer group: commit, then a second run sees only new events
        t=${types[0]}
        local G="g-$P$RANDOM" total
        total=$(wc -l <"$PB_TMP/$t.in")
        timeout 120 "$bin" consume -t "$t" -b "$B" -p "$P" -g "$G" --from-beginning --max "$total" "${X[@]}" \
                >"$PB_TMP/g1.out" 2>"$PB_TMP/g1.err" || pb_fail "group consume failed: $(cat "$PB_TMP/g1.err")"
        [[ $(wc -l <"$PB_TMP/g1.out") -eq $total ]] || pb_fail "group run 1 read $(wc -l <"$PB_TMP/g1.out"), expected $total"
        # nothing new: the run is ended by SIGINT and exits cleanly with no output
        rc=0
        timeout --preserve-status -s INT 20 "$bin" consume -t "$t" -b "$B" -p "$P" -g "$G" --from-beginning "${X[@]}" \
                >"$PB_TMP/g2.out" 2>"$PB_TMP/g2.err" || rc=$?
        ((rc == 0)) || pb_fail "group run 2 exit $rc after SIGINT: $(cat "$PB_TMP/g2.err")"
        [[ ! -s $PB_TMP/g2.out ]] || pb_fail "group run 2 re-read committed events: $(head -c 300 "$PB_TMP/g2.out")"
        # one more event: the group's next run gets exactly it
        head -n 1 "$PB_TMP/$t.in" | "$bin" produce -t "$t" -b "$B" -p "$P" "${X[@]}" 2>/dev/null ||
                pb_fail "produce of one more event failed"
        timeout 120 "$bin" consume -t "$t" -b "$B" -p "$P" -g "$G" --max 1 "${X[@]}" \
                >"$PB_TMP/g3.out" 2>"$PB_TMP/g3.err" || pb_fail "group run 3 failed: $(cat "$PB_TMP/g3.err")"
        head -n 1 "$PB_TMP/$t.in" | cmp -s - "$PB_TMP/g3.out" || pb_fail "group run 3 read $(cat "$PB_TMP/g3.out")"
        pb_log "group $G: committed offsets honoured across runs"

        # --- an undecodable message is reported with its position, and
        # consuming goes on (exit 1 at the end)
        printf 'not avro\n' | timeout 60 "${KCAT:-kcat}" -b "$B" -P -t "$P$t" -k garbage ||
                pb_fail "kcat could not publish the garbage message"
        printf '%s\n' "$(head -n 1 "$PB_TMP/$t.in")" | "$bin" produce -t "$t" -b "$B" -p "$P" "${X[@]}" 2>/dev/null ||
                pb_fail "produce after the garbage message failed"
        rc=0
        timeout 120 "$bin" consume -t "$t" -b "$B" -p "$P" --from-beginning "${X[@]}" \
                >"$PB_TMP/bad.out" 2>"$PB_TMP/bad.err" || rc=$?
        ((rc == 1)) || pb_fail "consume over an undecodable message: exit $rc, expected 1"
        grep -qE "^topic=$P$t partition=[0-9]+ offset=[0-9]+: unknown frame magic 6E" "$PB_TMP/bad.err" ||
                pb_fail "undecodable message not reported as expected: $(cat "$PB_TMP/bad.err")"
        [[ $(wc -l <"$PB_TMP/bad.out") -eq $((total + 2)) ]] ||
                pb_fail "consume did not go on past the undecodable message: $(wc -l <"$PB_TMP/bad.out") events"
        pb_log "undecodable message reported, consuming went on"
}
