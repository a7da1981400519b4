#!/usr/bin/env bash
# The walk-through of docs/admin.md ("Walk-through with curl") runs as
# written against `partnerbus dev` (only its ports and /tmp/ are replaced:
# dev's admin and gateway and the receiver on free ports, a directory of
# the test instead of /tmp), and does what the document says: an
# organisation, its admin token and a publisher token that publishes
# through dev's gateway; a subscription to a loopback receiver that answers
# the verification challenge; dev's fleet delivers the published event and
# the status turns HEALTHY; the revoked token gets 401; the audit log shows
# the calls. Every call of the walk-through to admin or the gateway must
# succeed (2xx), except the one documented to get 401.
set -euo pipefail
source "$(dirname "$0")/../kafka/lib.sh"
source "$(dirname "$0")/dev_common.bash"
pb_require_cmd jq
dev_setup
# a working copy as the document assumes one: the repository's files, var/ of dev
mkdir -p repo bin tmp
ln -s "$PB_SOURCE_DIR/schemas" repo/schemas
ln -s "$PB_BIN" bin/partnerbus
DEVDIR=$WORK/repo/var
export PATH=$WORK/bin:$PATH
cd repo
dev_start ../out.txt ../err.txt
ADMIN=$(sed -n 's/^  admin    \(http:[^ ]*\)\/v1\/admin .*/\1/p' ../err.txt)
[[ -n $ADMIN ]] || { cat ../err.txt >&2; pb_fail "no '  admin    URL' line in dev's banner"; }
[[ $ADMIN == "http://127.0.0.1:$(cat "$DEVDIR/admin.port")" ]] || pb_fail "banner says admin is at $ADMIN, admin.port says $(cat "$DEVDIR/admin.port")"
recv=127.0.0.1:$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

# the block, ports and /tmp/ replaced; every curl call's status and URL to stderr
python3 - "$PB_SOURCE_DIR/docs/admin.md" "${ADMIN#http://}" "${GW#http://}" "$recv" "$WORK/tmp" >"$WORK/walk.sh" <<'PY'
import re, sys
doc, admin, gw, recv, tmp = sys.argv[1:6]
text = open(doc, encoding="utf-8").read()
section = text.split("\n## Walk-through with curl", 1)[1].split("\n## ", 1)[0]
blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
assert len(blocks) == 1, "expected one sh block in the walk-through, found %d" % len(blocks)
b = blocks[0]
for a, r in (("127.0.0.1:8090", admin), ("127.0.0.1:8080", gw), ("127.0.0.1:8099", recv)):
    assert a in b, a + " not in the walk-through"
    b = b.replace(a, r)
b = b.replace("/tmp/", tmp + "/")
# the receiver's own port (it binds ("127.0.0.1", 8099))
assert "8099" in b, "the receiver's port not in the walk-through"
b = b.replace("8099", recv.rsplit(":", 1)[1])
print("curl() { command curl -w '%{stderr}HTTP %{http_code} %{method} %{url_effective}\\n' \"$@\"; }")
print(b)
PY
rc=0
timeout 180 bash -e "$WORK/walk.sh" >"$WORK/walk.out" 2>"$WORK/walk.err" || rc=$?
show() { cat "$WORK/walk.out" "$WORK/walk.err" "$DEVDIR"/logs/fleet* 2>/dev/null | tail -60 >&2; }
((rc == 0)) || { show; pb_fail "the walk-through failed ($rc)"; }
# every call to admin or the gateway answered 2xx
bad=$(grep '^HTTP ' "$WORK/walk.err" | grep -E " ($ADMIN|$GW)/" | grep -Ev '^HTTP 2[0-9][0-9] ' || true)
[[ -z $bad ]] || { show; pb_fail "calls of the walk-through not answered 2xx: $bad"; }
n=$(grep -c '^HTTP 2' "$WORK/walk.err")
((n >= 17)) || { show; pb_fail "only $n calls answered 2xx"; }
out=$WORK/walk.out
grep -q '"id":"oblast-dnipro"' "$out" || pb_fail "no organisation created"
grep -q '"duplicate":false' "$out" || { show; pb_fail "the publisher token did not publish through dev's gateway"; }
grep -q '"name":"ci-publisher"' "$out" || pb_fail "the token list shows no ci-publisher"
# the fleet delivered the published event to the receiver, projected
grep -q 'BGK-2022-12-GEN' "$WORK/tmp/dnipro.jsonl" || pb_fail "no delivery at the receiver"
jq -e '.secret | startswith("pbs_")' "$WORK/tmp/subscription.json" >/dev/null || pb_fail "no signing secret in the answer to create"
jq -e '.state == "HEALTHY" and .delivered >= 1' "$WORK/tmp/status.json" >/dev/null ||
        { show; pb_fail "status not HEALTHY: $(cat "$WORK/tmp/status.json")"; }
grep -q 'publishing with the revoked token: 401$' "$out" || { show; pb_fail "the revoked token was not refused with 401"; }
# the audit log (the org-admin's view, newest first): the calls of the walk-through
audit=$(grep '"entries"' "$out" | tail -1)
for a in token.issue subscription.create subscription.change subscription.suspend subscription.resume \
        subscription.retransmit subscription.rotate_secret subscription.delete token.revoke org.create; do
        jq -e --arg a "$a" 'any(.entries[]; .action == $a and .result == "ok")' <<<"$audit" >/dev/null ||
                pb_fail "no $a in the audit log: $audit"
done
[[ $(jq -r '.entries[0].action' <<<"$audit") == token.revoke ]] || pb_fail "the newest audit entry is not the revocation"
grep -q 'pbs_' <<<"$audit" && pb_fail "a signing secret in the audit log"
grep -q '"disabled":true' "$out" || pb_fail "the organisation was not disabled"
pb_log "organisation, tokens, publish, subscription delivered and HEALTHY, revocation 401, audit"
dev_stop
echo "dev_admin: ok"
