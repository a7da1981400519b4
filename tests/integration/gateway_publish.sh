#!/usr/bin/env bash
# gateway_publish.sh: the gateway against the real broker of the kafka
# fixture, with curl as the client.
#  - every valid example is accepted (201) and consumed back equal;
#  - every invalid example gets 400 naming its documented pointer and
#    message, and is absent from the topics;
#  - a repeated event_id is answered 200 duplicate with the original
#    offset and not published again;
#  - batches are all or nothing, with line numbers in errors;
#  - source is forced to the authenticated organisation;
#  - 400 401 403 404 405 409? 413 415 429 are provoked for real (503: see
#    gateway_kafka_outage.sh), 413 while the body is still being sent.
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"
source "$(dirname "$0")/../gateway/lib_gateway.sh"

gw_setup curl jq python3 sha256sum
PFX=$(pb_topic_name gw)-
TYPES=aid.dispatched,partnership.founded,funds.granted,aid.delivered

# one token per organisation named in the examples, all types; one
# organisation that may only publish aid.delivered
{
        for f in "$EXAMPLES"/valid/*/*.json "$EXAMPLES"/invalid/*/*.json; do
                jq -r '.source? // empty' "$f" 2>/dev/null || true
        done | grep -E '^[A-Za-z0-9._-]+$' | sort -u | while read -r org; do
                gw_token_line "$org" '*'
        done
        gw_token_line blau-gelbes-kreuz-hospital aid.delivered
        gw_token_line restricted-org aid.delivered
} >"$PB_TMP/tokens"

gw_start main --brokers "$B" --tokens "$PB_TMP/tokens" --insecure-http \
        --topic-prefix "$PFX" --rate 0
P=$GW_PORT
O=$GW_OPS
pb_log "gateway on port $P, topics $PFX*"

# ---------------------------------------------------------------- valid
n_valid=0
: >"$PB_TMP/want.jsonl"
for f in "$EXAMPLES"/valid/*/*.json; do
        type=$(basename "$(dirname "$f")")
        org=$(jq -r .source "$f")
        gw_post "$P" "tok-$org" "$type" application/json "$f"
        expect_code 201 "valid example $f"
        jq -e --arg id "$(jq -r .event_id "$f")" --arg t "${PFX}$type" \
                '.event_id == $id and .topic == $t and (.partition|type) == "number" and (.offset|type) == "number" and .duplicate == false' \
                "$PB_TMP/resp.json" >/dev/null || pb_fail "201 body for $f: $(cat "$PB_TMP/resp.json")"
        jq -cS . "$f" >>"$PB_TMP/want.jsonl"
        n_valid=$((n_valid + 1))
done
pb_log "$n_valid valid examples accepted"

# ---------------------------------------------------------------- duplicate
first=$(ls "$EXAMPLES"/valid/aid.dispatched/*.json | head -n 1)
gw_post "$P" "tok-$(jq -r .source "$first")" aid.dispatched application/json "$first"
expect_code 200 "repeated event_id"
jq -e '.duplicate == true' "$PB_TMP/resp.json" >/dev/null || pb_fail "duplicate not flagged: $(cat "$PB_TMP/resp.json")"

# ---------------------------------------------------------------- invalid
n_invalid=0
for f in "$EXAMPLES"/invalid/*/*.json; do
        type=$(basename "$(dirname "$f")")
        err=${f%.json}.error
        want_ptr=$(sed -n 1p "$err")
        want_msg=$(sed -n 2p "$err")
        org=$(jq -r '.source? // empty' "$f" 2>/dev/null || true)
        [[ $org =~ ^[A-Za-z0-9._-]+$ ]] || org=blau-gelbes-kreuz
        gw_post "$P" "tok-$org" "$type" application/json "$f"
        expect_code 400 "invalid example $f"
        jq -e --arg p "$want_ptr" --arg m "$want_msg" \
                '.error == "invalid" and any(.errors[]; .pointer == $p and (.message | contains($m)))' \
                "$PB_TMP/resp.json" >/dev/null ||
                pb_fail "$f: want pointer '$want_ptr' with '$want_msg', got $(cat "$PB_TMP/resp.json")"
        n_invalid=$((n_invalid + 1))
done
pb_log "$n_invalid invalid examples rejected with their documented errors"

# the errors' machine-readable codes and params (docs/gateway.md, "Error
# codes"), which the console translates
want_code() { # type example pointer jq-condition-on-the-error
        local f=$EXAMPLES/invalid/$1/$2.json org
        org=$(jq -r '.source? // empty' "$f" 2>/dev/null || true)
        [[ $org =~ ^[A-Za-z0-9._-]+$ ]] || org=blau-gelbes-kreuz
        gw_post "$P" "tok-$org" "$1" application/json "$f"
        expect_code 400 "invalid example $f"
        jq -e --arg p "$3" "any(.errors[]; .pointer == \$p and ($4))" "$PB_TMP/resp.json" >/dev/null ||
                pb_fail "$f: want at '$3' an error with $4, got $(cat "$PB_TMP/resp.json")"
}
want_code aid.dispatched decimal-too-many-fraction-digits /declared_value \
        '.code == "decimal_fraction_digits" and .params == {"precision":14,"scale":2}'
want_code funds.granted amount-too-many-integer-digits /amount \
        '.code == "decimal_integer_digits" and .params.max_integer_digits == .params.precision - .params.scale'
want_code aid.dispatched bad-item-category /items/0/category \
        '.code == "enum_unknown" and (.params.allowed | index("GENERATORS") != null)'
want_code aid.dispatched missing-shipment-id /shipment_id '.code == "required_missing" and (has("params") | not)'
want_code aid.dispatched unknown-field /weight_tons '.code == "unknown_field"'
want_code aid.dispatched impossible-date /dispatched_on '.code == "date_invalid"'
want_code aid.dispatched quantity-as-string /items/0/quantity '.code == "type_mismatch" and .params.got == "string"'
want_code aid.dispatched bad-event-id /event_id '.code == "uuid_invalid"'
want_code aid.dispatched truncated-json "" '.code == "json_invalid"'
pb_log "error codes and params as documented"

# ---------------------------------------------------------------- source
ex=$EXAMPLES/valid/partnership.founded/essen-rivne-solidarity.json
# absent source: set to the organisation (a partnership of its own: the
# example's belongs to stadt-essen, which published it above)
jq 'del(.source) | .event_id = "11111111-2222-4333-8444-555555555555" | .partnership_id = "KOELN-SRC-TEST"' "$ex" >"$PB_TMP/nosrc.json"
gw_post "$P" tok-stadt-koeln partnership.founded application/json "$PB_TMP/nosrc.json"
expect_code 201 "event without source"
jq -cS '.source = "stadt-koeln"' "$PB_TMP/nosrc.json" >>"$PB_TMP/want.jsonl"
# another organisation's name
jq '.event_id = "11111111-2222-4333-8444-666666666666"' "$ex" >"$PB_TMP/othersrc.json"
gw_post "$P" tok-stadt-koeln partnership.founded application/json "$PB_TMP/othersrc.json"
expect_code 400 "publishing in another organisation's name"
jq -e 'any(.errors[]; .pointer == "/source" and .code == "source_mismatch" and .params.organisation == "stadt-koeln")' "$PB_TMP/resp.json" >/dev/null || pb_fail "no /source error: $(cat "$PB_TMP/resp.json")"

# ---------------------------------------------------------------- batches
g=$EXAMPLES/valid/aid.dispatched/generators-bgk-2022-12.json
mk() { jq -c --arg id "$1" '.event_id = $id | .shipment_id = ("B-" + $id[0:8])' "$g"; }
{ mk aaaaaaaa-0000-4000-8000-000000000001; echo; mk aaaaaaaa-0000-4000-8000-000000000002
  jq -c '.items[0].quantity = "many"' "$g"; } >"$PB_TMP/bad.ndjson"
gw_post "$P" tok-blau-gelbes-kreuz aid.dispatched application/x-ndjson "$PB_TMP/bad.ndjson"
expect_code 400 "batch with one invalid line"
jq -e '.errors | length == 1 and .[0].line == 4 and .[0].pointer == "/items/0/quantity" and .[0].code == "type_mismatch"' "$PB_TMP/resp.json" >/dev/null ||
        pb_fail "batch error should name line 4: $(cat "$PB_TMP/resp.json")"
{ mk aaaaaaaa-0000-4000-8000-000000000003; mk aaaaaaaa-0000-4000-8000-000000000003; } >"$PB_TMP/dupbatch.ndjson"
gw_post "$P" tok-blau-gelbes-kreuz aid.dispatched application/x-ndjson "$PB_TMP/dupbatch.ndjson"
expect_code 400 "batch repeating an event_id"
{ mk aaaaaaaa-0000-4000-8000-000000000001; mk aaaaaaaa-0000-4000-8000-000000000002; mk aaaaaaaa-0000-4000-8000-000000000004; } >"$PB_TMP/good.ndjson"
gw_post "$P" tok-blau-gelbes-kreuz aid.dispatched application/x-ndjson "$PB_TMP/good.ndjson"
expect_code 200 "valid batch"
jq -e '.published == 3 and .duplicates == 0 and (.results | length) == 3 and all(.results[]; .status == "published")' "$PB_TMP/resp.json" >/dev/null ||
        pb_fail "batch answer: $(cat "$PB_TMP/resp.json")"
jq -cS . "$PB_TMP/good.ndjson" >>"$PB_TMP/want.jsonl"
# the same batch again plus one new event: duplicates answered, one published
{ cat "$PB_TMP/good.ndjson"; mk aaaaaaaa-0000-4000-8000-000000000005; } >"$PB_TMP/again.ndjson"
gw_post "$P" tok-blau-gelbes-kreuz aid.dispatched application/x-ndjson "$PB_TMP/again.ndjson"
expect_code 200 "batch with duplicates"
jq -e '.published == 1 and .duplicates == 3' "$PB_TMP/resp.json" >/dev/null || pb_fail "batch duplicates: $(cat "$PB_TMP/resp.json")"
mk aaaaaaaa-0000-4000-8000-000000000005 | jq -cS . >>"$PB_TMP/want.jsonl"

# ---------------------------------------------------------------- statuses
ok=$EXAMPLES/valid/aid.delivered/poltava-hospital-confirms.json
gw_post "$P" "" aid.delivered application/json "$ok"
expect_code 401 "no token"
grep -qi '^WWW-Authenticate: Bearer' "$PB_TMP/resp.h" || pb_fail "401 without WWW-Authenticate"
gw_post "$P" tok-nobody aid.delivered application/json "$ok"
expect_code 401 "unknown token"
gw_post "$P" tok-restricted-org aid.dispatched application/json "$g"
expect_code 403 "type not allowed"
gw_post "$P" tok-restricted-org no.such.type application/json "$g"
expect_code 404 "unknown type"
HTTP_CODE=$(curl -s -o "$PB_TMP/resp.json" -w '%{http_code}' "http://127.0.0.1:$P/v2/nothing")
expect_code 404 "unknown route"
HTTP_CODE=$(curl -s -o "$PB_TMP/resp.json" -D "$PB_TMP/resp.h" -w '%{http_code}' -H "Authorization: Bearer tok-stadt-koeln" "http://127.0.0.1:$P/v1/events/aid.dispatched")
expect_code 405 "GET on the publish route"
grep -qi '^Allow: POST' "$PB_TMP/resp.h" || pb_fail "405 without Allow"
HTTP_CODE=$(curl -s -o "$PB_TMP/resp.json" -w '%{http_code}' -X DELETE "http://127.0.0.1:$P/v1/schemas")
expect_code 405 "DELETE /v1/schemas"
gw_post "$P" tok-blau-gelbes-kreuz aid.dispatched text/plain "$g"
expect_code 415 "text/plain"
head -c 5000000 /dev/zero | tr '\0' ' ' >"$PB_TMP/big.json"
gw_post "$P" tok-blau-gelbes-kreuz aid.dispatched application/json "$PB_TMP/big.json"
expect_code 413 "body over --max-body (Content-Length)"

# a second gateway with tight limits: 413 while reading a chunked body,
# 413 for too many events, 429 from the token bucket
gw_start tight --brokers "$B" --tokens "$PB_TMP/tokens" --insecure-http \
        --topic-prefix "$PFX" --max-body 64KiB --max-batch-events 2 --rate 1 --burst 2
T=$GW_PORT
# a chunked body (no Content-Length) of 160 KiB: read without being stored
# past the limit, answered 413 at its end
read -r st sent < <(python3 "$GW_HELPERS/slow_upload.py" "$T" tok-blau-gelbes-kreuz aid.dispatched 16384 10)
[[ $st == 413 ]] || pb_fail "chunked upload over the limit: got '$st' after $sent bytes"
# a body that goes on streaming far past the limit is cut off (1 MiB of
# grace), long before the client's 16 MiB are sent
read -r st sent < <(python3 "$GW_HELPERS/slow_upload.py" "$T" tok-blau-gelbes-kreuz aid.dispatched 65536 256)
[[ $st == closed ]] || pb_fail "endless body: got '$st' after $sent bytes, want the connection closed"
((sent < 4 * 1024 * 1024)) || pb_fail "endless body cut off only after $sent bytes"
pb_log "chunked uploads: 413 for 160 KiB, endless body cut off after $sent bytes"
{ mk aaaaaaaa-0000-4000-8000-000000000011; mk aaaaaaaa-0000-4000-8000-000000000012; mk aaaaaaaa-0000-4000-8000-000000000013; } >"$PB_TMP/three.ndjson"
gw_post "$T" tok-blau-gelbes-kreuz aid.dispatched application/x-ndjson "$PB_TMP/three.ndjson"
expect_code 413 "batch over --max-batch-events"
codes=""
for i in 1 2 3 4; do
        mk "aaaaaaaa-0000-4000-8000-00000000002$i" >"$PB_TMP/r.json"
        gw_post "$T" tok-blau-gelbes-kreuz aid.dispatched application/json "$PB_TMP/r.json"
        codes+="$HTTP_CODE "
        if [[ $HTTP_CODE == 201 ]]; then jq -cS . "$PB_TMP/r.json" >>"$PB_TMP/want.jsonl"; fi
done
[[ $codes == *429* ]] || pb_fail "no 429 from a bucket of 2 at 1/s: $codes"
grep -qi '^Retry-After: [1-9]' "$PB_TMP/resp.h" || pb_fail "429 without Retry-After"
pb_log "rate limit answers: $codes"
# another organisation is not limited by the first one's bucket
mk aaaaaaaa-0000-4000-8000-000000000031 | jq '.source = "stadt-essen" | .shipment_id = "E-ESSEN-31"' >"$PB_TMP/e.json"
gw_post "$T" tok-stadt-essen aid.dispatched application/json "$PB_TMP/e.json"
expect_code 201 "second organisation under its own bucket"
jq -cS . "$PB_TMP/e.json" >>"$PB_TMP/want.jsonl"

# the body buffer is allocated from Content-Length when the headers come:
# that counts against --max-inflight-bytes at once, so clients announcing
# large bodies and then stalling cannot make the gateway hold more than it
gw_start mem --brokers "$B" --tokens "$PB_TMP/tokens" --insecure-http \
        --topic-prefix "$PFX" --max-body 400KiB --max-inflight-bytes 1MiB
M=$GW_PORT
python3 - "$M" >"$PB_TMP/stall.out" <<'EOF'
import socket, sys, time
port = int(sys.argv[1])
def announce(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"POST /v1/events/aid.dispatched HTTP/1.1\r\nHost: x\r\n"
              b"Authorization: Bearer tok-blau-gelbes-kreuz\r\n"
              b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n{" % n)
    return s
held = [announce(400 * 1024) for _ in range(2)]   # 800 KiB announced, stalled
time.sleep(0.5)
s = announce(400 * 1024)                          # would make 1200 KiB
s.settimeout(5)
try:
    ans = s.recv(65536).decode("utf-8", "replace")
    print(ans.split(" ")[1] if ans else "closed", ans.rsplit("\r\n\r\n", 1)[-1])
except socket.timeout:
    print("timeout")
s.close()
# a chunked body (no Content-Length) crosses the limit while it is read:
# the answer is 503 at its end, not a reset connection
c = socket.create_connection(("127.0.0.1", port))
c.sendall(b"POST /v1/events/aid.dispatched HTTP/1.1\r\nHost: x\r\n"
          b"Authorization: Bearer tok-blau-gelbes-kreuz\r\n"
          b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
chunk = b" " * 65536
for _ in range(5):                                # 320 KiB: over 1 MiB with the held 800
    c.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
c.sendall(b"0\r\n\r\n")
c.settimeout(5)
try:
    ans = c.recv(65536).decode("utf-8", "replace")
    print(ans.split(" ")[1] if ans else "closed", ans.rsplit("\r\n\r\n", 1)[-1])
except (socket.timeout, ConnectionResetError):
    print("reset")
for h in held:
    h.close()
EOF
{ read -r st rest; read -r cst crest; } <"$PB_TMP/stall.out"
[[ $st == 503 && $rest == *overloaded* ]] || pb_fail "third announced body over --max-inflight-bytes: got '$st $rest', want 503 overloaded"
[[ $cst == 503 && $crest == *overloaded* ]] || pb_fail "chunked body crossing --max-inflight-bytes: got '$cst $crest', want 503 overloaded"
sleep 0.5
mk aaaaaaaa-0000-4000-8000-000000000041 >"$PB_TMP/m.json"
gw_post "$M" tok-blau-gelbes-kreuz aid.dispatched application/json "$PB_TMP/m.json"
expect_code 201 "after the stalled clients left, their bytes are released"
jq -cS . "$PB_TMP/m.json" >>"$PB_TMP/want.jsonl"
pb_log "announced bodies count against --max-inflight-bytes: $st, then 201"

# ---------------------------------------------------------------- schemas
HTTP_CODE=$(curl -s -o "$PB_TMP/resp.json" -w '%{http_code}' "http://127.0.0.1:$P/v1/schemas")
expect_code 200 "GET /v1/schemas"
[[ $(jq '.types | length' "$PB_TMP/resp.json") == 4 ]] || pb_fail "schemas list: $(cat "$PB_TMP/resp.json")"
HTTP_CODE=$(curl -s -o "$PB_TMP/resp.json" -w '%{http_code}' "http://127.0.0.1:$P/v1/schemas/funds.granted")
expect_code 200 "GET /v1/schemas/funds.granted"
jq -e '.schema.type == "record" and .example.occurred_at != null and (.example | has("event_id") or has("source") | not) and .key != null' "$PB_TMP/resp.json" >/dev/null || pb_fail "schema body"
# the served example is accepted as it is
jq .example "$PB_TMP/resp.json" >"$PB_TMP/served-example.json"
HTTP_CODE=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P/v1/schemas/nope")
expect_code 404 "unknown schema"

# ---------------------------------------------------------------- metrics
curl -s "http://127.0.0.1:$O/metrics" >"$PB_TMP/metrics"
# only on the ops listener: the public port names no organisation
[[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P/metrics") == 404 ]] || pb_fail "/metrics served on the public port"
grep -q 'partnerbus_gateway_requests_total{route="/v1/events/{type}",code="201"}' "$PB_TMP/metrics" || pb_fail "requests metric missing"
grep -q 'partnerbus_gateway_events_total{type="aid.dispatched",org="blau-gelbes-kreuz",outcome="rejected"}' "$PB_TMP/metrics" || pb_fail "events metric missing"
grep -q '^partnerbus_gateway_publish_latency_seconds_count [1-9]' "$PB_TMP/metrics" || pb_fail "latency histogram missing"
grep -q '^partnerbus_gateway_producer_queue_depth ' "$PB_TMP/metrics" || pb_fail "queue depth missing"
[[ $(curl -s "http://127.0.0.1:$P/healthz") == ok ]] || pb_fail "healthz"
[[ $(curl -s "http://127.0.0.1:$P/readyz") == ready ]] || pb_fail "readyz"

# ---------------------------------------------------------------- topics
gw_consume "$B" "$PFX" "$TYPES" | sort >"$PB_TMP/got.jsonl"
sort "$PB_TMP/want.jsonl" >"$PB_TMP/want.sorted"
if ! diff -u "$PB_TMP/want.sorted" "$PB_TMP/got.jsonl" >"$PB_TMP/diff"; then
        head -c 3000 "$PB_TMP/diff" >&2
        pb_fail "topics differ from what was accepted (invalid, duplicate or lost events)"
fi
pb_log "topics hold exactly the $(wc -l <"$PB_TMP/got.jsonl") accepted events, each once"
