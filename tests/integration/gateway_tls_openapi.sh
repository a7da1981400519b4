#!/usr/bin/env bash
# gateway_tls_openapi.sh:
#  - HTTPS with a self-signed certificate made here by openssl; plain HTTP
#    only with --insecure-http (refused otherwise, exit 2);
#  - the routes the gateway serves (--print-routes, and probing the running
#    server) are exactly the paths and methods of docs/openapi.json, which
#    is what GET /v1/openapi.json serves;
#  - SIGHUP re-reads the tokens file on a live keep-alive connection.
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"
source "$(dirname "$0")/../gateway/lib_gateway.sh"

gw_setup curl jq python3 openssl
PFX=$(pb_topic_name gwtls)-
EX=$GW_EXAMPLE
gw_tokens blau-gelbes-kreuz

# ---------------------------------------------------------------- TLS
gw_self_signed
set +e
"$PB_BIN" gateway --brokers "$B" --tokens "$PB_TMP/tokens" --listen 127.0.0.1:0 >"$PB_TMP/refuse.log" 2>&1
rc=$?
set -e
[[ $rc == 2 ]] || pb_fail "plain HTTP without --insecure-http: exit $rc, want 2"
grep -q insecure-http "$PB_TMP/refuse.log" || pb_fail "refusal does not say how: $(cat "$PB_TMP/refuse.log")"

gw_start tls --brokers "$B" --tokens "$PB_TMP/tokens" --topic-prefix "$PFX" \
        --tls-cert "$PB_TMP/cert.pem" --tls-key "$PB_TMP/key.pem"
S=$GW_PORT
code=$(curl -s -o "$PB_TMP/resp.json" -w '%{http_code}' --cacert "$PB_TMP/cert.pem" \
        -H "Authorization: Bearer tok-blau-gelbes-kreuz" -H 'Content-Type: application/json' \
        --data-binary "@$EX" "https://127.0.0.1:$S/v1/events/aid.dispatched")
[[ $code == 201 ]] || pb_fail "publish over HTTPS: $code $(cat "$PB_TMP/resp.json")"
# the certificate is checked (not trusted without --cacert)
if curl -s -o /dev/null "https://127.0.0.1:$S/healthz"; then pb_fail "untrusted self-signed certificate accepted"; fi
# plain HTTP to the TLS port gets no HTTP answer
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$S/healthz" || true)
[[ $code != 200 ]] || pb_fail "plain HTTP answered on the TLS port"
[[ $(gw_consume "$B" "$PFX" aid.dispatched | wc -l) == 1 ]] || pb_fail "event published over HTTPS not in the topic"
pb_log "HTTPS ok (self-signed certificate, port $S)"

# ---------------------------------------------------------------- OpenAPI
"$PB_BIN" gateway --print-routes | sort >"$PB_TMP/routes"
# (the /v1/admin paths are served by partnerbus admin: admin_bad_input.sh)
jq -r '.paths | to_entries[] | select(.key | startswith("/v1/admin/") | not) | .key as $p | .value | keys[] | "\(ascii_upcase) \($p)"' \
        "$PB_SOURCE_DIR/docs/openapi.json" | sort >"$PB_TMP/openapi-routes"
diff -u "$PB_TMP/routes" "$PB_TMP/openapi-routes" >&2 || pb_fail "routes and docs/openapi.json differ"
curl -s --cacert "$PB_TMP/cert.pem" "https://127.0.0.1:$S/v1/openapi.json" >"$PB_TMP/served.json"
cmp -s "$PB_TMP/served.json" "$PB_SOURCE_DIR/docs/openapi.json" || pb_fail "GET /v1/openapi.json is not docs/openapi.json"
# every documented route answers on the running server (not 404), and the
# documented status codes of the publish route are all declared
while read -r method path; do
        url=https://127.0.0.1:$S${path//\{type\}/aid.dispatched}
        code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$PB_TMP/cert.pem" -X "$method" \
                -H "Authorization: Bearer tok-blau-gelbes-kreuz" -H 'Content-Type: application/json' \
                --data-binary "@$EX" "$url")
        [[ $code != 404 && $code != 405 ]] || pb_fail "$method $path documented but answers $code"
done <"$PB_TMP/openapi-routes"
for c in 200 201 400 401 403 404 405 409 413 415 429 503; do
        jq -e --arg c "$c" '.paths["/v1/events/{type}"].post.responses | has($c)' \
                "$PB_SOURCE_DIR/docs/openapi.json" >/dev/null || pb_fail "status $c of POST /v1/events/{type} not documented"
done
pb_log "OpenAPI document and routes agree ($(wc -l <"$PB_TMP/routes") routes)"

# ---------------------------------------------------------------- SIGHUP
gw_start hup --brokers "$B" --tokens "$PB_TMP/tokens" --topic-prefix "$PFX" --insecure-http
python3 "$GW_HELPERS/keepalive_hup.py" "$GW_PORT" "$GW_PID" "$PB_TMP/tokens" \
        tok-blau-gelbes-kreuz "$(gw_token_line blau-gelbes-kreuz aid.dispatched | sed "s/$(gw_hash tok-blau-gelbes-kreuz)/$(gw_hash tok-rotated)/")" \
        tok-rotated "$EX" || pb_fail "SIGHUP token reload on a keep-alive connection"
grep -q 'tokens re-read' "$PB_TMP/hup.log" || pb_fail "no reload logged"
# a broken tokens file on SIGHUP keeps the old tokens
echo "garbage" >"$PB_TMP/tokens"
kill -HUP "$GW_PID"
sleep 0.5
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer tok-rotated" -H 'Content-Type: application/json' \
        --data-binary "@$EX" "http://127.0.0.1:$GW_PORT/v1/events/aid.dispatched")
[[ $code == 200 || $code == 201 ]] || pb_fail "a bad tokens file on SIGHUP dropped the working tokens: $code"
kill -0 "$GW_PID" || pb_fail "gateway died on a bad tokens file"
pb_log "SIGHUP: tokens re-read on a live connection; a bad file keeps the old ones"
