#!/usr/bin/env bash
# The console's History page (docs/console.md "History") in a real
# Chromium against partnerbus dev and its real Kafka. Published here
# through the gateway: a shipment dispatched by the signed-in organisation
# and delivered (confirmed) by a second one, and a grant. In the browser
# (tests/browser/console_history.py): the latest events, the shipment's
# timeline with who reported each version, "edit" on the grant opens the
# publish form filled from its latest version, a changed amount in German
# notation is published, and the timeline shows the second version. Here:
# both versions of the grant are in Kafka with distinct event ids, the
# second with the new amount; no token in a log. axe-core on every page;
# screenshots under the build dir (console-history-shots/).
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"
source "$(dirname "$0")/dev_common.bash"
pb_require_cmd /usr/bin/chromium /usr/bin/chromedriver npm jq
dev_setup
console_dev_start console-history-shots

N=$RANDOM
ORG=hist-$N
ORGNAME="Kreis Verlauf $N"
RORG=hist-recv-$N
mkorg() { # ID NAME PUBLISH READ -> token in $WORK/ID.token
        curl -fsS "$ADMIN/v1/admin/orgs" -H "$(auth "$OP")" --data-binary "{\"id\":\"$1\",
          \"name\":\"$2\",\"kind\":\"municipality\",\"publish\":$3,\"read\":$4}" >/dev/null ||
                pb_fail "could not create the organisation $1"
        curl -fsS "$ADMIN/v1/admin/orgs/$1/tokens" -H "$(auth "$OP")" \
                --data-binary '{"name":"console","role":"org-admin"}' | jq -r .token >"$WORK/$1.token"
}
mkorg "$ORG" "$ORGNAME" '["aid.dispatched","funds.granted"]' \
        '[{"type":"aid.dispatched"},{"type":"aid.delivered"},{"type":"funds.granted"}]'
mkorg "$RORG" "Oblast $N" '["aid.delivered"]' '[{"type":"aid.delivered"}]'

SHIP=HIST-S-$N-$RANDOM
GRANT=HIST-G-$N-$RANDOM
pb_history_examples "$SHIP" "$GRANT" "$WORK"
publish() { # ORG TYPE FILE: through dev's gateway (it learns new tokens within a second; 401 and 503 until then)
        local code
        for _ in $(seq 100); do
                code=$(curl -sS -o "$WORK/pub.json" -w '%{http_code}' "$GW/v1/events/$2" \
                        -H "$(auth "$(cat "$WORK/$1.token")")" -H 'Content-Type: application/json' \
                        --data-binary "@$3")
                [[ $code == 401 || $code == 503 ]] || break
                sleep 0.1
        done
        [[ $code == 200 || $code == 201 ]] || pb_fail "publish $2 as $1: HTTP $code $(head -c 600 "$WORK/pub.json")"
}
publish "$ORG" aid.dispatched "$WORK/dispatched.json"
publish "$RORG" aid.delivered "$WORK/delivered.json"
publish "$ORG" funds.granted "$WORK/grant.json"

console_admin_start "$WORK/$ORG.token"
code=$(curl -sS -o /dev/null -w '%{http_code}' "$CONSOLE/console/history.js")
[[ $code == 200 ]] || pb_fail "history.js not served ($code)"

console_browser_test console_history \
        --token-file "$WORK/$ORG.token" --org "$ORG" --org-name "$ORGNAME" --receiver "$RORG" \
        --shipment "$SHIP" --grant "$GRANT"

# both versions of the grant are in Kafka: distinct event ids, the same
# grant, the second with the amount typed in German
console_events funds.granted grant_id "$GRANT" >"$WORK/grants.jsonl"
python3 - "$WORK/grants.jsonl" "$GRANT" "$ORG" <<'PY' || pb_fail "the grant's versions in Kafka are not as edited"
import json, sys
g = [json.loads(l) for l in open(sys.argv[1])]
assert len(g) == 2, "found %d versions of %s" % (len(g), sys.argv[2])
assert g[0]["event_id"] != g[1]["event_id"], "one event id for two versions"
assert [x["amount"] for x in g] == ["143000.00", "150500.00"], [x["amount"] for x in g]
assert all(x["source"] == sys.argv[3] for x in g), [x["source"] for x in g]
# everything else was carried over from the latest version
for k in ("purpose", "grantor", "recipient", "currency", "recurrence", "granted_on"):
    assert g[0][k] == g[1][k], (k, g[0][k], g[1][k])
print("kafka: %s -> %s" % (g[0]["amount"], g[1]["amount"]))
PY
console_admin_stop "$WORK/$ORG.token" # no token in any log
dev_stop
echo "ok: console history in Chromium ($(ls "$SHOTS" | wc -l) screenshots in $SHOTS)"
