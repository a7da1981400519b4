#!/usr/bin/env bash
# The web console (docs/console.md) in a real Chromium against partnerbus dev
# and its real Kafka: tests/browser/console_browser.py signs in with an
# org-admin token, publishes an aid shipment through the form with German
# input (143.000,00), sees an invalid decimal refused at its field, switches
# to Ukrainian and back and suspends a subscription; creates, watches (until
# HEALTHY), edits, retransmits and suspends a subscription to a receiver of
# its own; issues and revokes a token; signs a publisher token in; as the
# operator, creates an organisation, changes its permissions and pages
# through the audit log; axe-core checks every page. Here: the console's
# headers (CSP, nosniff), the shipment is in Kafka with the amount
# 143000.00, both suspensions reached the API, and the gateway refuses the
# token revoked in the console. The browser talks to a second
# `partnerbus admin` beside dev's (admin is stateless: same topics) started
# with --gateway-url, as dev's admin has none. Screenshots are kept under
# the build dir (console-shots/).
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"
source "$(dirname "$0")/dev_common.bash"
pb_require_cmd /usr/bin/chromium /usr/bin/chromedriver npm jq
dev_setup
console_dev_start console-shots

ORG=console-$RANDOM
ORGNAME="Kreis Konsole $ORG"
curl -fsS "$ADMIN/v1/admin/orgs" -H "$(auth "$OP")" --data-binary "{\"id\":\"$ORG\",
  \"name\":\"$ORGNAME\",\"kind\":\"municipality\",\"publish\":[\"aid.dispatched\",\"aid.delivered\"],
  \"read\":[{\"type\":\"aid.delivered\"},{\"type\":\"aid.dispatched\"}]}" >/dev/null || pb_fail "could not create the organisation"
curl -fsS "$ADMIN/v1/admin/orgs/$ORG/tokens" -H "$(auth "$OP")" \
        --data-binary '{"name":"console","role":"org-admin"}' |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])' >"$WORK/token"

console_admin_start "$WORK/token"

# the headers of the console and of the API
curl -fsS -D "$WORK/h.txt" -o "$WORK/index.html" "$CONSOLE/console/"
grep -qi "^content-security-policy: default-src 'self'; script-src 'self';" "$WORK/h.txt" ||
        { cat "$WORK/h.txt" >&2; pb_fail "no strict Content-Security-Policy on /console/"; }
grep -qi '^x-content-type-options: nosniff' "$WORK/h.txt" || pb_fail "no nosniff on /console/"
grep -qi '^content-type: text/html' "$WORK/h.txt" || pb_fail "/console/ is not text/html"
grep -q '<script>' "$WORK/index.html" && pb_fail "inline script in the console"
grep -Eq '(src|href)="https?://' "$WORK/index.html" && pb_fail "the console loads from another host"
code=$(curl -sS -o /dev/null -w '%{http_code}' "$CONSOLE/console/nothing.js")
[[ $code == 404 ]] || pb_fail "unknown asset answered $code"
code=$(curl -sS -o /dev/null -w '%{http_code}' "$CONSOLE/console/labels/de.json")
[[ $code == 200 ]] || pb_fail "labels not served ($code)"
curl -fsS "$CONSOLE/console/types.json" | python3 -c '
import json, sys
t = json.load(sys.stdin)
assert sorted(t) == ["aid.delivered", "aid.dispatched", "funds.granted", "partnership.founded"], t' ||
        pb_fail "/console/types.json does not list the built-in schemas"
code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$CONSOLE/v1/console/events/aid.dispatched" --data '{}')
[[ $code == 401 ]] || pb_fail "publishing without a token answered $code"

# the gateway's landing page links to the schemas and the API description
curl -fsS -D "$WORK/gh.txt" -o "$WORK/landing.html" "$GW/"
grep -qi '^content-type: text/html' "$WORK/gh.txt" || pb_fail "GET / of the gateway is not HTML"
grep -qi "^content-security-policy: default-src 'none'" "$WORK/gh.txt" || pb_fail "no CSP on the gateway's landing page"
grep -q 'href="/v1/schemas"' "$WORK/landing.html" || pb_fail "the landing page does not link to /v1/schemas"
grep -q 'href="/v1/openapi.json"' "$WORK/landing.html" || pb_fail "the landing page does not link to /v1/openapi.json"

# a delivery for the subscriptions: console-sub (its endpoint refuses
# connections) fails on it, the one the browser creates receives it
python3 - "$PB_SOURCE_DIR/schemas/examples/valid/aid.delivered/dnipro-generators-partial.json" "$ORG" \
        >"$WORK/delivered.json" <<'PY'
import json, sys, uuid
e = json.load(open(sys.argv[1]))
e.update(event_id=str(uuid.uuid4()), source=sys.argv[2], shipment_id="CONSOLE-DLV-" + uuid.uuid4().hex[:8])
print(json.dumps(e))
PY
DELIVERED=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["event_id"])' "$WORK/delivered.json")
publish_delivered() {
        curl -fsS -o /dev/null "$GW/v1/events/aid.delivered" -H "$(auth "$(cat "$WORK/token")")" \
                -H 'Content-Type: application/json' --data-binary @"$WORK/delivered.json" 2>/dev/null
}
pb_wait_for 30 publish_delivered

SUB=$(curl -fsS "$CONSOLE/v1/admin/orgs/$ORG/subscriptions" -H "$(auth "$(cat "$WORK/token")")" \
        --data-binary '{"name":"console-sub","topics":["aid.delivered"],"endpoint":"http://127.0.0.1:9/hook"}' |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])') || pb_fail "could not create the subscription"

SHIP=CONSOLE-$RANDOM-$RANDOM
echo "dev, the console's admin and the curl checks: ${SECONDS} s"
console_browser_test console_browser \
        --token-file "$WORK/token" --org "$ORG" --org-name "$ORGNAME" --subscription "$SUB" \
        --shipment "$SHIP" --result "$WORK/result.json" \
        --api-result "$WORK/api.json" --op-token-file "$DEVDIR/operator-token" \
        --delivered "$DELIVERED"

# the shipment is in Kafka, with the German amount as its decimal
console_events aid.dispatched shipment_id "$SHIP" >"$WORK/events.jsonl"
python3 - "$WORK/events.jsonl" "$SHIP" "$ORG" <<'PY' || pb_fail "the published shipment is not in Kafka as entered"
import json, sys
e = [json.loads(l) for l in open(sys.argv[1])]
assert len(e) == 1, "found %d events of %s" % (len(e), sys.argv[2])
e = e[0]
assert e["declared_value"] == "143000.00", e["declared_value"]
assert e["source"] == sys.argv[3], e["source"]
assert e["items"][0]["quantity"] == 370 and len(e["items"]) == 1, e["items"]
assert e["dispatched_on"] == "2026-12-01", e["dispatched_on"]
print("kafka: %s %s %s" % (e["event_id"], e["shipment_id"], e["declared_value"]))
PY
# the suspension reached the API
state=$(curl -fsS "$CONSOLE/v1/admin/orgs/$ORG/subscriptions/$SUB" -H "$(auth "$(cat "$WORK/token")")" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')
[[ $state == suspended ]] || pb_fail "the subscription is $state after suspending it in the console"
# ... and so did the one the console created (and saw HEALTHY)
SUB2=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["subscription"])' "$WORK/api.json")
state=$(curl -fsS "$CONSOLE/v1/admin/orgs/$ORG/subscriptions/$SUB2" -H "$(auth "$(cat "$WORK/token")")" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')
[[ $state == suspended ]] || pb_fail "the console's subscription is $state after suspending it"
# the token revoked in the console: the gateway refuses it too (within 5 s)
PUBTOK=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["revoked_token"])' "$WORK/api.json")
jq_ev() { python3 -c 'import json,sys; e=json.load(open(sys.argv[1])); e["source"]=sys.argv[2]; print(json.dumps(e))' \
        "$PB_SOURCE_DIR/schemas/examples/valid/aid.dispatched/$(ls "$PB_SOURCE_DIR/schemas/examples/valid/aid.dispatched" | head -1)" "$ORG"; }
jq_ev >"$WORK/ev.json"
for i in $(seq 50); do
        code=$(curl -sS -o /dev/null -w '%{http_code}' "$GW/v1/events/aid.dispatched" -H "$(auth "$PUBTOK")" \
                -H 'Content-Type: application/json' --data-binary @"$WORK/ev.json")
        [[ $code == 401 ]] && break
        sleep 0.1
done
[[ $code == 401 ]] || pb_fail "the gateway answers $code to the token revoked in the console"
console_admin_stop "$WORK/token" # no token in any log
dev_stop
echo "ok: console in Chromium ($(ls "$SHOTS" | wc -l) screenshots in $SHOTS)"
