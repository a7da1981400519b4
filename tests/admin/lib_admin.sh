# lib_admin.sh: helpers for tests/integration/admin_*.sh. Sources
# tests/kafka/lib.sh and tests/gateway/lib_gateway.sh itself.

source "$(dirname "${BASH_SOURCE[0]}")/../kafka/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../gateway/lib_gateway.sh"

# adm_setup CMD...: gw_setup CMD... (call it plainly, not in $(...)), then
# an operator token in $PB_TMP/operator.token (OP) and a topic prefix PFX
adm_setup() {
        gw_setup "$@"
        OP=op-$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
        printf '%s\n' "$OP" >"$PB_TMP/operator.token"
        PFX=$(pb_topic_name adm)-
}

# adm_start NAME ARGS...: start `partnerbus admin serve` (logs in
# $PB_TMP/NAME.log) on a free port, wait until it answers; sets ADM_PID,
# ADM_PORT, ADM (its base URL)
adm_start() {
        local name=$1
        shift
        rm -f "$PB_TMP/$name.port"
        "$PB_BIN" admin serve --brokers "$B" --topic-prefix "$PFX" \
                --listen 127.0.0.1:0 --port-file "$PB_TMP/$name.port" --insecure-http \
                --operator-token-file "$PB_TMP/operator.token" "$@" \
                >"$PB_TMP/$name.log" 2>&1 &
        ADM_PID=$!
        GW_PIDS+=("$ADM_PID")
        pb_wait_port "$PB_TMP/$name.port" "$ADM_PID" "$PB_TMP/$name.log" "admin $name" 150
        ADM_PORT=$(cat "$PB_TMP/$name.port")
        ADM=http://127.0.0.1:$ADM_PORT
        pb_wait_for 60 bash -c "[[ \$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer $OP' $ADM/v1/admin/whoami) == 200 ]]" ||
                { cat "$PB_TMP/$name.log" >&2; pb_fail "admin $name not ready"; }
}

# adm_call TOKEN METHOD PATH [BODY]: one API call; HTTP_CODE set, the
# answer in $PB_TMP/resp.json, its headers in $PB_TMP/resp.h
adm_call() {
        local tok=$1 method=$2 path=$3 body=${4-}
        local args=(-s -o "$PB_TMP/resp.json" -D "$PB_TMP/resp.h" -w '%{http_code}' -X "$method")
        [[ -n $tok ]] && args+=(-H "Authorization: Bearer $tok")
        # BODY "@FILE" sends FILE
        [[ -n $body ]] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
        HTTP_CODE=$(curl "${args[@]}" "$ADM$path")
}

# adm_expect CODE WHAT: fail unless HTTP_CODE is CODE
adm_expect() {
        [[ $HTTP_CODE == "$1" ]] || pb_fail "$2: got HTTP $HTTP_CODE, want $1: $(head -c 800 "$PB_TMP/resp.json")"
}

# adm_jq FILTER WHAT: fail unless jq -e FILTER holds on the last answer
adm_jq() {
        jq -e "$1" "$PB_TMP/resp.json" >/dev/null || pb_fail "$2: $(head -c 800 "$PB_TMP/resp.json")"
}

# adm_org ID PUBLISH-JSON READ-JSON: create organisation ID as the operator
adm_org() {
        adm_call "$OP" POST /v1/admin/orgs \
                "{\"id\":\"$1\",\"name\":\"Org $1\",\"kind\":\"ngo\",\"publish\":$2,\"read\":$3}"
        adm_expect 201 "create organisation $1"
}

# adm_token ORG NAME ROLE: issue a token as the operator; prints the token,
# its id in $PB_TMP/last_token_id
adm_token() {
        adm_call "$OP" POST "/v1/admin/orgs/$1/tokens" "{\"name\":\"$2\",\"role\":\"$3\"}"
        adm_expect 201 "issue token $2 of $1"
        jq -r .id "$PB_TMP/resp.json" >"$PB_TMP/last_token_id"
        jq -r .token "$PB_TMP/resp.json"
}

# adm_until CODE WHAT CMD...: run CMD (which sets HTTP_CODE) up to 50
# times, 0.1 s apart, until HTTP_CODE is CODE; fail with WHAT otherwise
adm_until() {
        local code=$1 what=$2
        shift 2
        for _ in $(seq 50); do
                "$@"
                [[ $HTTP_CODE == "$code" ]] && return 0
                sleep 0.1
        done
        pb_fail "$what: $HTTP_CODE $(head -c 800 "$PB_TMP/resp.json")"
}

# adm_publish PORT TOKEN: publish a fresh aid.dispatched event
# ($PB_TMP/ev.json, see adm_event) at the gateway on PORT
adm_publish() {
        adm_event "$PB_TMP/ev.json"
        gw_post "$1" "$2" aid.dispatched application/json "$PB_TMP/ev.json"
}

# adm_event FILE: an aid.dispatched event with a shipment id of its own
adm_event() {
        jq --arg s "S-$RANDOM$RANDOM$RANDOM" '.shipment_id = $s | del(.source, .event_id)' \
                "$GW_EXAMPLE" >"$1"
}

# adm_receiver NAME MODE: start tests/admin/echo_receiver.py (MODE: echo,
# plain, noecho, wrong, fail); its URL in RECV_URL, requests logged to
# $PB_TMP/NAME.requests
adm_receiver() {
        local name=$1 mode=$2 i
        rm -f "$PB_TMP/$name.rport"
        python3 "$PB_SOURCE_DIR/tests/admin/echo_receiver.py" "$mode" "$PB_TMP/$name.rport" \
                "$PB_TMP/$name.requests" >"$PB_TMP/$name.rlog" 2>&1 &
        GW_PIDS+=("$!")
        for i in $(seq 100); do
                [[ -s $PB_TMP/$name.rport ]] && break
                sleep 0.05
        done
        [[ -s $PB_TMP/$name.rport ]] || pb_fail "receiver $name did not start"
        RECV_URL=http://127.0.0.1:$(cat "$PB_TMP/$name.rport")/hook
}

# adm_request_id: X-Request-Id of the last answer
adm_request_id() { tr -d '\r' <"$PB_TMP/resp.h" | awk -F': ' 'tolower($1) == "x-request-id" {print $2}'; }

# adm_topic NAME: every record of the topic PREFIX+NAME, read to its end,
# as lines "KEY<TAB>VALUE<TAB>VALUE-SIZE" (a tombstone: empty VALUE, size
# -1); kcat's stderr in $PB_TMP/kcat.err
adm_topic() {
        timeout 30 "$KCAT" -b "$B" -C -o beginning -t "${PFX}$1" -e -q -K '\t' \
                -f '%k\t%s\t%S\n' 2>"$PB_TMP/kcat.err"
}
