#!/usr/bin/env python3
"""The web console in a real Chromium (docs/console.md): sign in with a
token, publish an aid shipment through the schema-generated form with German
input, an invalid decimal shown at its field, Ukrainian and back, suspend a
subscription; create a subscription to a receiver of this test through the
form, see it turn HEALTHY, its details, edit it, retransmit from a date,
suspend it; issue a publisher token (shown once) and revoke it; sign in
with a publisher token (publish only); as the
operator, create an organisation and change its permissions, read the audit
log page by page. Every page is screenshotted into --shots and checked with
axe-core (serious or critical violations fail). Run by
tests/integration/console_browser.sh."""
import http.server
import json
import re
import threading
import urllib.request

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select

import pbbrowser

a, token, browser = pbbrowser.session("--subscription", "--result", "--api-result",
                                      "--op-token-file", "--delivered")
op = open(a.op_token_file).readline().strip()
drv, wait, fail, page, text_is = browser.drv, browser.wait, browser.fail, browser.page, browser.text_is
visible, field, lang, sign_in = browser.visible, browser.field, browser.lang, browser.sign_in


def call(method, path, tok=None, body=None):
    """The management API as the test itself sees it: (status, JSON)."""
    req = urllib.request.Request(a.admin + path, method=method,
                                 data=None if body is None else json.dumps(body).encode())
    req.add_header("Authorization", "Bearer " + (tok or token))
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


# a receiver for the subscription the console creates: it echoes the
# verification challenge and keeps every delivery
deliveries = []


class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        ch = self.headers.get("X-Partnerbus-Challenge")
        if ch:
            out = json.dumps({"challenge": ch}).encode()
        else:
            d = json.loads(body)
            deliveries.extend(d if isinstance(d, list) else [d])
            out = b"{}"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


recv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
threading.Thread(target=recv.serve_forever, daemon=True).start()
RECV = "http://127.0.0.1:%d/partnerbus" % recv.server_address[1]
api_result = {}



def err_at(ptr):
    return drv.find_element(
        By.CSS_SELECTOR, '#pubform .field[data-ptr="%s"] .err' % ptr).text


def write_api_result():
    with open(a.api_result, "w") as f:
        json.dump(api_result, f)


with browser.run("console_browser", at_end=write_api_result):
    # German by default: the browser prefers it
    browser.open_console(a.admin)
    text_is(By.CSS_SELECTOR, "#page-signin h1", "Anmelden")
    if drv.find_element(By.TAG_NAME, "html").get_attribute("lang") != "de":
        fail("the page is not German for a German browser")
    page("signin")

    # a wrong token: refused, a message, still the sign-in page
    sign_in("pbt_not-a-token", shown=None)
    text_is(By.ID, "status", "Anmeldung fehlgeschlagen")
    page("signin-failed")

    sign_in(token)
    text_is(By.ID, "who", a.org_name)
    who = drv.find_element(By.ID, "who").text
    if "aid.dispatched" not in who:
        fail("the overview does not say the org may publish aid.dispatched: " + who)
    if token in drv.current_url:
        fail("the token is in the URL")
    if drv.get_cookies():
        fail("the console set cookies: %s" % drv.get_cookies())
    page("home")

    # publish: the form of aid.dispatched, built from its schema
    drv.find_element(By.ID, "nav-publish").click()
    Select(drv.find_element(By.ID, "etype")).select_by_value("aid.dispatched")
    wait.until(EC.presence_of_element_located(
        (By.CSS_SELECTOR, '#pubform [name="/declared_value"]')))
    eid = field("/event_id").get_attribute("value")
    if len(eid) != 36:
        fail("no event_id generated: %r" % eid)
    # an enum as a select with German labels
    kinds = [o.text for o in Select(field("/sender/kind")).options]
    if "Nichtregierungsorganisation" not in kinds:
        fail("sender kind not labelled in German: %s" % kinds)
    field("/shipment_id").send_keys(a.shipment)
    field("/sender/name").send_keys("Blau-Gelbes Kreuz e.V.")
    Select(field("/sender/kind")).select_by_value("NGO")
    field("/sender/country").send_keys("DE")
    field("/destination/city").send_keys("Дніпро")
    field("/destination/oblast").send_keys("Dnipropetrowsk")
    drv.execute_script("arguments[0].value = '2026-12-01'",
                       field("/dispatched_on"))
    Select(field("/items/0/category")).select_by_value("GENERATORS")
    field("/items/0/description").send_keys("Notstromaggregate")
    field("/items/0/quantity").send_keys("370")
    # arrays: add a second line, remove it again
    drv.find_element(By.CSS_SELECTOR, "#pubform fieldset.array .add").click()
    field("/items/1/description")
    drv.find_elements(By.CSS_SELECTOR, "#pubform fieldset.array .remove")[1].click()
    if drv.find_elements(By.CSS_SELECTOR, '#pubform [name="/items/1/description"]'):
        fail("removing the second item left it in the form")
    Select(field("/currency")).select_by_value("EUR")

    # an invalid decimal: the message at that field, nothing published
    field("/declared_value").send_keys("143.000,0,0")
    drv.find_element(By.ID, "publish-btn").click()
    wait.until(lambda d: err_at("/declared_value") != "")
    if "Keine gültige Zahl" not in err_at("/declared_value"):
        fail("wrong message at the invalid decimal: " + err_at("/declared_value"))
    first_err = err_at("/declared_value")
    if field("/declared_value").get_attribute("aria-invalid") != "true":
        fail("the invalid decimal is not marked aria-invalid")
    page("publish-invalid")

    # a decimal the page accepts but the gateway refuses (more digits than
    # the schema's precision 14): the gateway's message at its pointer
    field("/declared_value").clear()
    field("/declared_value").send_keys("1.000.000.000.000.000,00")
    drv.find_element(By.ID, "publish-btn").click()
    wait.until(lambda d: err_at("/declared_value") not in ("", first_err))
    print("gateway at /declared_value: " + err_at("/declared_value"))
    # translated by the error's code, the gateway's English message beside it
    gw_err = err_at("/declared_value")
    if not gw_err.startswith("Zu groß: höchstens 12 Stellen vor dem Komma."):
        fail("the gateway's error is not in German: " + gw_err)
    if "(invalid decimal" not in gw_err or "more than 12 integer digits" not in gw_err:
        fail("the gateway's own message is not kept beside it: " + gw_err)
    page("publish-gateway-error")

    # German input: 143.000,00
    field("/declared_value").clear()
    field("/declared_value").send_keys("143.000,00")
    # what the form understood, in German notation with the currency
    prev = drv.find_element(By.CSS_SELECTOR, '#pubform .field[data-ptr="/declared_value"] .preview'
                            ).get_attribute("textContent")
    if prev != "= 143.000,00\u00a0€":
        fail("the amount is not previewed in German notation: %r" % prev)
    drv.find_element(By.ID, "publish-btn").click()
    text_is(By.ID, "pubresult", "Gespeichert: aid.dispatched")
    stored = drv.find_element(By.ID, "pubresult").text
    print("console: " + stored)
    page("publish-stored")
    with open(a.result, "w") as f:
        json.dump({"event_id": eid, "stored": stored}, f)

    # Ukrainian and back
    lang("uk")
    text_is(By.ID, "nav-publish", "Опублікувати")
    if drv.find_element(By.TAG_NAME, "html").get_attribute("lang") != "uk":
        fail("html lang is not uk after switching")
    kinds = [o.text for o in Select(field("/sender/kind")).options]
    print("uk kinds: %s" % kinds[:3])
    page("publish-uk")
    lang("de")
    text_is(By.ID, "nav-publish", "Veröffentlichen")

    # subscriptions: suspend one
    drv.find_element(By.ID, "nav-subs").click()
    row = '#subs tr[data-sub="%s"]' % a.subscription
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, row)))
    text_is(By.CSS_SELECTOR, row + " .state", "aktiv")
    page("subscriptions")
    # its endpoint refuses connections: the fleet's failures in its details
    drv.find_element(By.CSS_SELECTOR, row + " button.details").click()
    pbbrowser.waiter(drv, 30).until(lambda d: d.find_elements(
        By.CSS_SELECTOR, "#sub-errors tbody tr td:nth-child(3)"))
    ferr = drv.find_element(By.CSS_SELECTOR, "#sub-errors tbody tr").text
    print("failure shown: " + ferr)
    if not re.match(r"^[0-9]{2}\.[0-9]{2}\.20[0-9]{2}, ", ferr):
        fail("the failure's time is not in German notation: " + ferr)
    page("subscription-failures", axe=False)
    drv.find_element(By.CSS_SELECTOR, row + " button.act").click()
    text_is(By.CSS_SELECTOR, row + " .state", "angehalten")
    page("subscriptions-suspended")

    # a new subscription to the test's receiver, through the form: a field
    # left out, a filter; first with a mistake the API refuses at its field
    drv.find_element(By.ID, "sub-new").click()
    visible("subform")
    page("subscription-new")
    drv.find_element(By.ID, "sub-name").send_keys("console-receiver")
    drv.find_element(By.CSS_SELECTOR, '#sub-topics input[value="aid.delivered"]').click()
    drv.find_element(By.CSS_SELECTOR, '#sub-topics input[value="aid.dispatched"]').click()
    drv.find_element(By.ID, "sub-endpoint").send_keys(RECV)
    drv.find_element(By.ID, "sub-where").send_keys("condition")
    drv.find_element(By.ID, "sub-exclude").send_keys("/note")
    drv.find_element(By.ID, "sub-save").click()
    wait.until(lambda d: d.find_element(By.ID, "sub-where-e").text != "")
    print("where refused: " + drv.find_element(By.ID, "sub-where-e").text)
    if drv.find_element(By.ID, "sub-where").get_attribute("aria-invalid") != "true":
        fail("the refused filter is not marked aria-invalid")
    if not drv.find_element(By.ID, "status").text.startswith("Die Eingabe wurde abgelehnt"):
        fail("admin's 'invalid' not translated: " + drv.find_element(By.ID, "status").text)
    page("subscription-refused")
    drv.find_element(By.ID, "sub-where").clear()
    drv.find_element(By.ID, "sub-where").send_keys("recipient.name!=nobody")
    drv.find_element(By.ID, "sub-save").click()
    visible("sub-secret")
    secret = drv.find_element(By.ID, "sub-secret-v").get_attribute("value")
    if not secret.startswith("pbs_"):
        fail("the signing secret is not shown once: %r" % secret)
    st, lst = call("GET", "/v1/admin/orgs/%s/subscriptions" % a.org)
    mine = [x for x in lst["subscriptions"] if x["name"] == "console-receiver"]
    if len(mine) != 1:
        fail("the API lists %d subscriptions console-receiver" % len(mine))
    sub = mine[0]
    if sub["endpoint"] != RECV or sorted(sub["topics"]) != ["aid.delivered", "aid.dispatched"] or \
            sub.get("projection") != {"exclude": ["/note"]} or \
            sub.get("where") != "recipient.name!=nobody":
        fail("the subscription is not as entered: %s" % sub)
    row2 = '#subs tr[data-sub="%s"]' % sub["id"]
    # (while the fleet takes it up: tokens)
    # tokens: issue a publisher token (shown once), it works; revoke it in
    # the console, the API refuses it
    drv.find_element(By.ID, "nav-tokens").click()
    visible("page-tokens")
    trow = '#tokens tr[data-name="console"]'
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, trow)))
    created = drv.find_element(By.CSS_SELECTOR, trow + " .created").text
    if not re.match(r"^[0-9]{2}\.[0-9]{2}\.20[0-9]{2}, [0-9]{2}:[0-9]{2}:[0-9]{2} Uhr \(UTC\)$", created):
        fail("token issued at not in German notation: %r" % created)
    page("tokens")
    drv.find_element(By.ID, "tok-name").send_keys("console-publisher")
    Select(drv.find_element(By.ID, "tok-role")).select_by_value("publisher")
    drv.find_element(By.ID, "tok-issue").click()
    visible("tok-once")
    pub = drv.find_element(By.ID, "tok-once-v").get_attribute("value")
    if not pub.startswith("pbt_") or len(pub) != 47:
        fail("the new token is not shown: %r" % pub)
    if "kopieren" not in drv.find_element(By.ID, "tok-once-h").text:
        fail("no copy hint beside the new token")
    page("token-issued")
    st, me = call("GET", "/v1/admin/whoami", tok=pub)
    if st != 200 or me.get("role") != "publisher":  # valid, says what it is
        fail("the new publisher token answered %d %s at whoami" % (st, me))
    st, _ = call("GET", "/v1/admin/orgs/%s/tokens" % a.org, tok=pub)
    if st != 403:  # but manages nothing
        fail("a publisher token listed tokens: %d" % st)
    # the same name again: refused with the translated code
    drv.find_element(By.ID, "tok-name").send_keys("console-publisher")
    drv.find_element(By.ID, "tok-issue").click()
    text_is(By.ID, "status", "Das gibt es schon")
    if drv.find_element(By.ID, "tok-once").is_displayed():
        fail("the token stays on the page after the next issue")
    prow = '#tokens tr[data-name="console-publisher"]'
    drv.find_element(By.CSS_SELECTOR, prow + " button.revoke").click()
    text_is(By.CSS_SELECTOR, prow + " button.revoke", "console-publisher")
    drv.find_element(By.CSS_SELECTOR, prow + " button.revoke").click()
    text_is(By.CSS_SELECTOR, prow + " .state", "widerrufen")
    page("token-revoked", axe=False)
    st, body = call("GET", "/v1/admin/whoami", tok=pub)
    if st != 401:
        fail("the revoked token answered %d at admin" % st)
    api_result["revoked_token"] = pub

    drv.find_element(By.ID, "nav-subs").click()
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, row2)))
    # the relay fleet runs it: the console turns it HEALTHY by itself
    pbbrowser.waiter(drv, 40).until(lambda d: d.find_element(
        By.CSS_SELECTOR, row2 + " .health").get_attribute("data-state") == "HEALTHY")
    if drv.find_element(By.CSS_SELECTOR, row2 + " .health").text != "gesund":
        fail("HEALTHY not shown in German")
    page("subscription-healthy")
    # the receiver got the delivery (before the edit below), without the
    # left-out field
    pbbrowser.waiter(drv, 20).until(lambda d: any(
        e.get("event_id") == a.delivered for e in deliveries))
    got = [e for e in deliveries if e.get("event_id") == a.delivered][0]
    if "note" in got or "recipient" not in got:
        fail("the delivery does not follow the projection: %s" % sorted(got))
    # and the shipment published through the form above, with its German
    # amount as the decimal (a new subscription starts at the beginning)
    pbbrowser.waiter(drv, 20).until(lambda d: any(
        e.get("shipment_id") == a.shipment for e in deliveries))
    got = [e for e in deliveries if e.get("shipment_id") == a.shipment][0]
    if got.get("declared_value") != "143000.00" or got.get("source") != a.org:
        fail("the form's shipment reached the receiver as %s" % got)
    print("receiver got the form's shipment %s: %s" % (a.shipment, got.get("declared_value")))

    # details: the status (numbers in German), failures, dead letters
    drv.find_element(By.CSS_SELECTOR, row2 + " button.details").click()
    visible("subdetail")
    text_is(By.ID, "sub-status", "Zugestellt")
    text_is(By.ID, "sub-conf", "recipient.name!=nobody")
    print("status: " + drv.find_element(By.ID, "sub-status").text.replace("\n", " | "))
    page("subscription-details")

    # edit: the projection; only the change is sent
    drv.find_element(By.CSS_SELECTOR, row2 + " button.edit").click()
    visible("subform")
    if drv.find_element(By.ID, "sub-exclude").get_attribute("value") != "/note":
        fail("the edit form does not start from the subscription")
    drv.find_element(By.ID, "sub-include").send_keys("/shipment_id\n/delivered_on")
    drv.find_element(By.ID, "sub-save").click()
    # saved: the list is loaded again, the form closed
    wait.until(EC.invisibility_of_element_located((By.ID, "subform")))
    text_is(By.ID, "status", "Abonnement console-receiver gespeichert.")
    st, sub = call("GET", "/v1/admin/orgs/%s/subscriptions/%s" % (a.org, sub["id"]))
    if sub.get("projection") != {"include": ["/shipment_id", "/delivered_on"], "exclude": ["/note"]}:
        fail("the edit did not reach the API: %s" % sub.get("projection"))
    if sub.get("version") != 2:
        fail("the edit wrote %s versions" % sub.get("version"))

    # retransmit from a date
    visible("rt-from")
    drv.execute_script("arguments[0].value = '2026-11-28'", drv.find_element(By.ID, "rt-from"))
    drv.find_element(By.ID, "rt-go").click()
    text_is(By.ID, "status", "ab dem 28.11.2026 erneut gesendet")
    text_is(By.ID, "sub-conf", "28.11.2026, 00:00:00 Uhr (UTC)")
    st, sub = call("GET", "/v1/admin/orgs/%s/subscriptions/%s" % (a.org, sub["id"]))
    if (sub.get("retransmit") or {}).get("from") != "2026-11-28T00:00:00.000Z":
        fail("retransmit did not reach the API: %s" % sub.get("retransmit"))
    page("subscription-retransmit", axe=False)

    # and suspend it
    drv.find_element(By.CSS_SELECTOR, row2 + " button.act").click()
    text_is(By.CSS_SELECTOR, row2 + " .state", "angehalten")
    api_result["subscription"] = sub["id"]

    api_result["deliveries"] = len(deliveries)
    print("receiver got %d deliveries" % len(deliveries))

    # a publisher token signs in: it may publish, nothing else
    st, issued = call("POST", "/v1/admin/orgs/%s/tokens" % a.org,
                      body={"name": "console-pub2", "role": "publisher"})
    drv.find_element(By.ID, "nav-signout").click()
    visible("page-signin")
    sign_in(issued["token"])
    text_is(By.ID, "who", "aid.dispatched")
    if not drv.find_element(By.ID, "nav-publish").is_displayed() or any(
            drv.find_element(By.ID, n).is_displayed()
            for n in ("nav-subs", "nav-tokens", "nav-audit", "nav-orgs")):
        fail("a publisher sees the wrong pages")
    page("home-publisher", axe=False)
    drv.find_element(By.ID, "nav-publish").click()
    wait.until(EC.presence_of_element_located(
        (By.CSS_SELECTOR, '#pubform [name="/event_id"]')))

    # the operator: organisations, permissions, the audit log
    drv.find_element(By.ID, "nav-signout").click()
    visible("page-signin")
    sign_in(op, shown="nav-orgs")
    drv.find_element(By.ID, "nav-orgs").click()
    orow = '#orgs tr[data-org="%s"]' % a.org
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, orow)))
    if "aid.dispatched" not in drv.find_element(By.CSS_SELECTOR, orow + " .publish").text:
        fail("the organisations list does not show what %s may publish" % a.org)
    page("orgs")
    new_org = a.org + "-b"
    drv.find_element(By.ID, "org-new").click()
    visible("orgform")
    drv.find_element(By.ID, "org-id").send_keys("Kein Bezeichner")
    drv.find_element(By.ID, "org-name").send_keys("Oblast Konsole")
    Select(drv.find_element(By.ID, "org-kind")).select_by_value("ua_partner")
    drv.find_element(By.CSS_SELECTOR, '#org-publish input[value="aid.delivered"]').click()
    drv.find_element(By.CSS_SELECTOR, '#org-read input[value="aid.dispatched"]').click()
    drv.find_element(By.CSS_SELECTOR, '#org-read input[data-type="aid.dispatched"]').send_keys(
        "destination.oblast")
    drv.find_element(By.ID, "org-save").click()
    wait.until(lambda d: d.find_element(By.ID, "org-id-e").text != "")
    wd = drv.find_element(By.CSS_SELECTOR, '#org-read input[data-type="aid.dispatched"]')
    if wd.get_attribute("aria-invalid") != "true":
        fail("the refused read filter is not marked at its type (%s)" %
             drv.find_element(By.ID, "status").text)
    page("org-refused")
    drv.find_element(By.ID, "org-id").clear()
    drv.find_element(By.ID, "org-id").send_keys(new_org)
    wd.clear()
    wd.send_keys("destination.oblast=Dnipropetrowsk")
    drv.find_element(By.ID, "org-save").click()
    nrow = '#orgs tr[data-org="%s"]' % new_org
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, nrow)))
    st, o = call("GET", "/v1/admin/orgs/" + new_org, tok=op)
    if st != 200 or o["publish"] != ["aid.delivered"] or o["kind"] != "ua_partner" or \
            o["read"] != [{"type": "aid.dispatched", "where": "destination.oblast=Dnipropetrowsk"}]:
        fail("the organisation is not as entered: %s %s" % (st, o))
    # permissions: may read funds.granted too
    drv.find_element(By.CSS_SELECTOR, nrow + " button.edit").click()
    visible("orgform")
    drv.find_element(By.CSS_SELECTOR, '#org-read input[value="funds.granted"]').click()
    page("org-permissions", axe=False)
    drv.find_element(By.ID, "org-save").click()
    text_is(By.CSS_SELECTOR, nrow + " .read", "funds.granted")
    st, o = call("GET", "/v1/admin/orgs/" + new_org, tok=op)
    if [r["type"] for r in o.get("read", [])] != ["aid.dispatched", "funds.granted"] or \
            o["read"][0].get("where") != "destination.oblast=Dnipropetrowsk":
        fail("the permissions did not reach the API: %s" % o.get("read"))

    # the audit log: newest first, 20 a page (a few more entries first,
    # refused calls are audited too, so that there is a second page)
    for i in range(6):
        call("POST", "/v1/admin/orgs/%s/tokens" % new_org, tok=op, body={"name": "x", "role": "bad"})
    drv.find_element(By.CSS_SELECTOR, nrow + " button.act").click()
    text_is(By.CSS_SELECTOR, nrow + " .state", "gesperrt")
    if call("GET", "/v1/admin/orgs/" + new_org, tok=op)[1].get("disabled") is not True:
        fail("disabling in the console did not reach the API")
    st, au = call("GET", "/v1/admin/audit?limit=100", tok=op)
    drv.find_element(By.ID, "nav-audit").click()
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#audit tbody tr[data-at]")))
    rows = drv.find_elements(By.CSS_SELECTOR, "#audit tbody tr[data-at]")
    ats = [r.get_attribute("data-at") for r in rows]
    if ats != sorted(ats, reverse=True) or len(rows) != min(20, len(au["entries"])):
        fail("audit page 1 not the newest 20 first: %s" % ats)
    if rows[0].get_attribute("data-action") != "org.disable" or \
            "Organisation gesperrt" not in rows[0].text:
        fail("the newest audit entry is not the disable: %s" % rows[0].text)
    page("audit")
    if len(au["entries"]) <= 20:
        fail("only %d audit entries: no second page to test" % len(au["entries"]))
    drv.find_element(By.ID, "audit-older").click()
    text_is(By.ID, "audit-page", "Seite 2")
    rows2 = [r.get_attribute("data-at") for r in
             drv.find_elements(By.CSS_SELECTOR, "#audit tbody tr[data-at]")]
    if not rows2 or rows2[0] > ats[-1] or rows2 != sorted(rows2, reverse=True):
        fail("audit page 2 is not older than page 1: %s" % rows2)
    if rows2 != [e["at"] for e in au["entries"][20:40]]:
        fail("audit page 2 is not entries 21-40 of the API")
    page("audit-page2", axe=False)
    # the same entries in English and in Ukrainian notation
    for code, page_title, notation, time_re, shot in (
            ("en", "Page 2, newest first", "English",
             r"^[0-9]{1,2}\u00a0[A-Z][a-z]{2}\u00a020[0-9]{2}, [0-9:]{8} \(UTC\)$", "audit-en"),
            ("uk", "Сторінка 2", "Ukrainian",
             r"^[0-9]{2}\.[0-9]{2}\.20[0-9]{2}, [0-9:]{8} \(UTC\)$", None)):
        lang(code)
        text_is(By.ID, "audit-page", page_title)
        t = drv.find_element(By.CSS_SELECTOR, "#audit tbody tr[data-at] td").get_attribute("textContent")
        if not re.match(time_re, t):
            fail("audit time not in %s notation: %r" % (notation, t))
        if shot:
            page(shot, axe=False)
    lang("de")
    text_is(By.ID, "audit-page", "Seite 2")
    # one organisation's entries
    Select(drv.find_element(By.ID, "audit-org")).select_by_value(a.org)
    text_is(By.ID, "audit-page", "Seite 1")
    wait.until(lambda d: all(a.org in r.text for r in
                             d.find_elements(By.CSS_SELECTOR, "#audit tbody tr[data-at]")))
