# lib_gateway.sh: helpers for tests/integration/gateway_*.sh. Source after
# tests/kafka/lib.sh and pb_tmpdir.

GW_HELPERS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
EXAMPLES=${PB_SOURCE_DIR}/schemas/examples
# the example event most gateway tests publish
GW_EXAMPLE=$EXAMPLES/valid/aid.dispatched/generators-bgk-2022-12.json

# gw_setup CMD...: the common start of a gateway test against the fixture's
# broker: fail unless every CMD is on PATH; set B (bootstrap servers) and
# PB_BIN; make PB_TMP; at exit stop every gateway started and remove PB_TMP.
# Call it plainly, not in $(...): the EXIT trap must belong to the test.
gw_setup() {
        pb_require_cmd "$@"
        B=$(pb_bootstrap)
        PB_BIN=$(pb_bin)
        pb_tmpdir
        trap 'gw_stop_all; rm -rf "$PB_TMP"' EXIT
}

# gw_setup_own_broker CMD...: like gw_setup, but against a broker of the
# test's own (to stop, pause or kill), started in KDIR; B names it. At exit
# gw_cleanup_own_broker; a test that needs more sets its own EXIT trap after
# this call and calls gw_cleanup_own_broker from it.
gw_setup_own_broker() {
        pb_require_cmd "$@"
        PB_BIN=$(pb_bin)
        pb_tmpdir
        KDIR=$PB_TMP/kafka
        trap gw_cleanup_own_broker EXIT
        "$PB_HARNESS" start --dir "$KDIR" >/dev/null 2>"$PB_TMP/harness.log" ||
                { cat "$PB_TMP/harness.log" >&2; pb_fail "own broker did not start"; }
        B=$(cat "$KDIR/bootstrap")
}

# gw_cleanup_own_broker: stop every gateway, then the own broker; remove PB_TMP
gw_cleanup_own_broker() {
        gw_stop_all
        "$PB_HARNESS" stop --dir "$KDIR" >/dev/null 2>&1 || true
        rm -rf "$PB_TMP"
}

# gw_wait_ready PORT [SECONDS]: wait (default 30 s) until /readyz on PORT
# answers "ready"
gw_wait_ready() {
        pb_wait_for "${2:-30}" bash -c "[[ \$(curl -s http://127.0.0.1:$1/readyz) == ready ]]"
}

# gw_term PID: SIGTERM the gateway PID and wait for it to exit; its exit
# status in GW_RC
gw_term() {
        kill -TERM "$1"
        GW_RC=0
        wait "$1" || GW_RC=$?
}

# gw_tokens ORG...: write $PB_TMP/tokens, each ORG allowed every type with
# the token tok-ORG
gw_tokens() {
        local org
        for org in "$@"; do
                gw_token_line "$org" '*'
        done >"$PB_TMP/tokens"
}

# gw_setup_two_orgs TAG CMD...: gw_setup CMD..., then a tokens file for
# org-a and org-b (every type), PFX a topic prefix of the test's own made
# from TAG, and GW_ARGS the arguments of a gateway on the fixture's broker
# with those tokens and that prefix, without rate limit.
gw_setup_two_orgs() {
        local tag=$1
        shift
        gw_setup "$@"
        PFX=$(pb_topic_name "$tag")-
        gw_tokens org-a org-b
        GW_ARGS=(--brokers "$B" --tokens "$PB_TMP/tokens" --insecure-http --topic-prefix "$PFX" --rate 0)
}

# gw_start_example NAME TAG ARGS...: the gateway NAME on B for the one
# organisation blau-gelbes-kreuz (its tokens file written), on a topic
# prefix PFX of the test's own made from TAG, without rate limit, with
# ARGS...; EX the example event to publish.
gw_start_example() {
        local name=$1 tag=$2
        shift 2
        PFX=$(pb_topic_name "$tag")-
        EX=$GW_EXAMPLE
        gw_tokens blau-gelbes-kreuz
        gw_start "$name" --brokers "$B" --tokens "$PB_TMP/tokens" --insecure-http \
                --topic-prefix "$PFX" --rate 0 "$@"
}

# gw_self_signed: a self-signed certificate for localhost and 127.0.0.1 in
# $PB_TMP/cert.pem, its key in $PB_TMP/key.pem
gw_self_signed() {
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
                -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
                -keyout "$PB_TMP/key.pem" -out "$PB_TMP/cert.pem" 2>/dev/null
}

# gw_hash TOKEN: SHA-256 hex of TOKEN, as the tokens file stores it
gw_hash() { printf %s "$1" | sha256sum | cut -d' ' -f1; }

# gw_token_line ORG TYPES: tokens-file line for ORG whose token is tok-ORG
gw_token_line() { printf '%s %s %s\n' "$1" "$(gw_hash "tok-$1")" "$2"; }

# gw_start NAME ARGS...: start a gateway (logs in $PB_TMP/NAME.log), wait
# until it listens; sets GW_PID, GW_PORT and GW_OPS (the port of its ops
# listener: /metrics, /readyz with the reason; empty if it has none). Plain
# HTTP unless ARGS say otherwise. The ops listener is asked for through the
# environment (GW_OPS_LISTEN, default 127.0.0.1:0; empty: none), which a
# gateway without one ignores.
gw_start() {
        local name=$1
        shift
        rm -f "$PB_TMP/$name.port"
        PARTNERBUS_OPS_LISTEN=${GW_OPS_LISTEN-127.0.0.1:0} \
        "$PB_BIN" gateway --listen 127.0.0.1:0 --port-file "$PB_TMP/$name.port" \
                --openapi "$PB_SOURCE_DIR/docs/openapi.json" "$@" \
                >"$PB_TMP/$name.log" 2>&1 &
        GW_PID=$!
        pb_wait_port "$PB_TMP/$name.port" "$GW_PID" "$PB_TMP/$name.log" "gateway $name"
        GW_PORT=$(cat "$PB_TMP/$name.port")
        GW_OPS=$(sed -n 's/.*msg="ops endpoint" port=\([0-9]*\).*/\1/p' "$PB_TMP/$name.log" | head -n 1)
        GW_PIDS+=("$GW_PID")
}

# gw_stop_all: SIGTERM every gateway started (test cleanup)
gw_stop_all() {
        local p
        for p in "${GW_PIDS[@]:-}"; do
                [[ -n $p ]] && kill -TERM "$p" 2>/dev/null || true
        done
        wait 2>/dev/null || true
}
GW_PIDS=()

# gw_post PORT TOKEN TYPE CTYPE FILE: POST FILE; sets HTTP_CODE, prints
# nothing; body in $PB_TMP/resp.json, headers in $PB_TMP/resp.h
gw_post() {
        local port=$1 token=$2 type=$3 ctype=$4 file=$5
        local auth=()
        [[ -n $token ]] && auth=(-H "Authorization: Bearer $token")
        HTTP_CODE=$(curl -s -o "$PB_TMP/resp.json" -D "$PB_TMP/resp.h" -w '%{http_code}' \
                "${auth[@]}" -H "Content-Type: $ctype" --data-binary "@$file" \
                "http://127.0.0.1:$port/v1/events/$type")
}

# expect_code WANT WHAT: fail unless HTTP_CODE is WANT
expect_code() {
        [[ $HTTP_CODE == "$1" ]] || pb_fail "$2: got HTTP $HTTP_CODE, want $1: $(head -c 600 "$PB_TMP/resp.json")"
}

# gw_consume BOOTSTRAP PREFIX TYPES: every event in PREFIX+TYPE topics,
# sorted-key compact JSON, one per line
gw_consume() {
        timeout 120 "$PB_BIN" consume --brokers "$1" --topic-prefix "$2" \
                --topics "$3" --from-beginning | jq -cS . ||
                pb_fail "consume from $2$3 failed"
}

# gw_loadgen PORT ARGS...: loadgen.py in the background against the gateway
# on PORT: aid.dispatched events made from $GW_EXAMPLE with fresh event_ids,
# as tok-blau-gelbes-kreuz; the ids answered 2xx in $PB_TMP/accepted.txt,
# answers by status in $PB_TMP/stats.json, its summary in
# $PB_TMP/loadgen.out; sets LG to its pid
gw_loadgen() {
        local port=$1
        shift
        python3 "$GW_HELPERS/loadgen.py" --url "http://127.0.0.1:$port" --token tok-blau-gelbes-kreuz \
                --type aid.dispatched --example "$GW_EXAMPLE" "$@" \
                --out "$PB_TMP/accepted.txt" --stats "$PB_TMP/stats.json" >"$PB_TMP/loadgen.out" &
        LG=$!
}

# gw_exactly_once BOOTSTRAP PREFIX IDS_FILE...: every event id listed in the
# files (one a line) is in the topic PREFIX+aid.dispatched, and no event is
# there more than once
gw_exactly_once() {
        local bs=$1 pfx=$2 missing dups
        shift 2
        gw_consume "$bs" "$pfx" aid.dispatched | jq -r .event_id | sort >"$PB_TMP/in-topic.txt"
        sort "$@" >"$PB_TMP/acc.sorted"
        missing=$(comm -23 "$PB_TMP/acc.sorted" <(sort -u "$PB_TMP/in-topic.txt") | wc -l)
        dups=$(uniq -d "$PB_TMP/in-topic.txt" | wc -l)
        pb_log "accepted $(wc -l <"$PB_TMP/acc.sorted"), in topic $(wc -l <"$PB_TMP/in-topic.txt"), missing $missing, duplicated $dups"
        ((missing == 0)) || pb_fail "$missing events answered 2xx are missing from the topic"
        ((dups == 0)) || pb_fail "$dups events are in the topic more than once"
}
