# consumer_common.bash: helpers of java_consumer.sh and python_consumer.sh
# (sourced after lib.sh): the valid examples as JSON lines per type, and the
# Confluent-API test registry tests/python/mini_registry.py.

SCHEMAS=${PARTNERBUS_SCHEMAS:-$PB_SOURCE_DIR/schemas}
EXAMPLES=$SCHEMAS/examples/valid
PYDIR=$PB_SOURCE_DIR/tests/python

# consumer_setup CMD...: the commands are required; B is the broker's
# bootstrap, BIN the partnerbus binary
consumer_setup() {
        pb_require_cmd "$@"
        B=$(pb_bootstrap)
        BIN=$(pb_bin)
}

# consumer_tmpdir: PB_TMP (pb_tmpdir); at exit stop the registry, if one was
# started, and remove PB_TMP (kept with PB_KEEP_TMP=1). Call it plainly.
consumer_tmpdir() {
        pb_tmpdir
        registry_pid=""
        trap consumer_cleanup EXIT
}
consumer_cleanup() {
        if [[ -n $registry_pid ]]; then
                kill "$registry_pid" 2>/dev/null || true
                wait "$registry_pid" 2>/dev/null || true
        fi
        [[ -n ${PB_KEEP_TMP:-} ]] || rm -rf "$PB_TMP"
}

# consumer_examples: every valid example as one compact JSON line, in
# $PB_TMP/TYPE.jsonl; the types in the array `types`. Fails when a type has
# no schema or no examples, or there are none.
consumer_examples() {
        local d t
        types=()
        for d in "$EXAMPLES"/*/; do
                t=$(basename "$d")
                [[ -f $SCHEMAS/$t.avsc ]] || pb_fail "examples for $t but no $SCHEMAS/$t.avsc"
                python3 -c '
import json, sys
for p in sorted(sys.argv[1:]):
    with open(p, encoding="utf-8") as f:
        print(json.dumps(json.load(f), ensure_ascii=False, separators=(",", ":")))
' "$d"*.json >"$PB_TMP/$t.jsonl"
                [[ -s $PB_TMP/$t.jsonl ]] || pb_fail "no examples in $d"
                types+=("$t")
        done
        ((${#types[@]} > 0)) || pb_fail "no examples under $EXAMPLES"
}

# consumer_start_registry PYTHON: start mini_registry.py with PYTHON (stopped
# at exit); its URL in REG
consumer_start_registry() {
        "$1" "$PYDIR/mini_registry.py" --port-file "$PB_TMP/registry.port" &
        registry_pid=$!
        pb_wait_for 20 test -s "$PB_TMP/registry.port"
        REG=http://127.0.0.1:$(cat "$PB_TMP/registry.port")
}
