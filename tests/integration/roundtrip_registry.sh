#!/usr/bin/env bash
# roundtrip_registry.sh: produce and consume in the Confluent wire format
# (--schema-registry) on the real broker, against the Confluent-API test
# registry tests/python/mini_registry.py: every valid example round-trips
# byte-exact, the values start with 00 + a 4-byte schema id, and a consumer
# without a registry reports each message and goes on.
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"
source "$(dirname "$0")/roundtrip_common.bash"

pb_require_cmd python3 timeout kcat od
B=$(pb_bootstrap)
bin=$(pb_bin)
P=$(pb_topic_name reg).
pb_tmpdir
python3 "$PB_SOURCE_DIR/tests/python/mini_registry.py" --port-file "$PB_TMP/port" \
        >"$PB_TMP/registry.log" 2>&1 &
reg_pid=$!
trap 'kill $reg_pid 2>/dev/null || true; wait $reg_pid 2>/dev/null || true; rm -rf "$PB_TMP"' EXIT
pb_wait_for 20 test -s "$PB_TMP/port"
R=http://127.0.0.1:$(cat "$PB_TMP/port")
pb_log "broker $B, registry $R, prefix $P"

for d in "$PB_SOURCE_DIR"/schemas/examples/valid/*/; do
        t=$(basename "$d")
        : >"$PB_TMP/$t.in"
        for f in "$d"*.json; do pb_compact "$f" >>"$PB_TMP/$t.in"; done
        n=$(wc -l <"$PB_TMP/$t.in")
        "$bin" produce -t "$t" -b "$B" -p "$P" -r "$R" <"$PB_TMP/$t.in" 2>"$PB_TMP/$t.err" ||
                pb_fail "produce $t with registry: $(cat "$PB_TMP/$t.err")"
        magic=$(pb_kcat_consume "$B" "$P$t" 1 -f '%s' | head -c 1 | od -An -tx1 | tr -d ' ')
        [[ $magic == 00 ]] || pb_fail "$t: first byte $magic, expected 00 (Confluent wire format)"
        timeout 120 "$bin" consume -t "$t" -b "$B" -p "$P" -r "$R" --from-beginning >"$PB_TMP/$t.out" ||
                pb_fail "consume $t with registry failed"
        cmp -s <(sort "$PB_TMP/$t.in") <(sort "$PB_TMP/$t.out") ||
                pb_fail "$t: events read through the registry differ from those published"
        rc=0
        timeout 120 "$bin" consume -t "$t" -b "$B" -p "$P" --from-beginning \
                >"$PB_TMP/$t.noreg" 2>"$PB_TMP/$t.noreg.err" || rc=$?
        ((rc == 1)) || pb_fail "$t: consume without registry exit $rc, expected 1"
        [[ $(grep -c "but no --schema-registry given" "$PB_TMP/$t.noreg.err") -eq $n ]] ||
                pb_fail "$t: expected $n 'no --schema-registry' reports: $(cat "$PB_TMP/$t.noreg.err")"
        pb_log "$t: $n events round-tripped through the registry"
done
pb_log "ok"
