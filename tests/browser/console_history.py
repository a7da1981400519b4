#!/usr/bin/env python3
"""The console's History page in a real Chromium (docs/console.md
"History"): sign in, the latest events, a shipment's timeline with who
reported each version, "edit" on a grant (the publish form filled from its
latest version), a new amount in German notation published, the timeline
with the second version. Every page is screenshotted into --shots and
checked with axe-core (serious or critical violations fail). Run by
tests/integration/console_history.sh."""
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select

import pbbrowser

a, token, browser = pbbrowser.session("--receiver", "--grant")
drv, wait, fail, page, text_is = browser.drv, browser.wait, browser.fail, browser.page, browser.text_is
visible, field, lang = browser.visible, browser.field, browser.lang


def timeline():
    """[(version, type cell, who, what), ...] of the timeline shown."""
    rows = drv.find_elements(By.CSS_SELECTOR, "#hist-tl tbody tr")
    return [[c.text for c in r.find_elements(By.CSS_SELECTOR, "th,td")] for r in rows]


def search(entity, versions):
    box = drv.find_element(By.ID, "hist-entity")
    box.clear()
    box.send_keys(entity)
    drv.find_element(By.ID, "hist-find").click()
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#hist-tl tbody tr")) == versions
               and entity in d.find_element(By.ID, "hist-tl-title").text)


with browser.run("console_history"):
    browser.open_console(a.admin)
    browser.sign_in(token)
    text_is(By.ID, "who", a.org_name)

    # History: the latest events of the readable types, newest first
    drv.find_element(By.ID, "nav-history").click()
    visible("page-history")
    text_is(By.CSS_SELECTOR, "#page-history h1", "Verlauf")
    grant_row = '#hist-table tbody tr[data-entity="%s"]' % a.grant
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, grant_row)))
    opts_ = [o.get_attribute("value") for o in Select(drv.find_element(By.ID, "hist-type")).options]
    if sorted(opts_) != ["", "aid.delivered", "aid.dispatched", "funds.granted"]:
        fail("the type selector does not offer the readable types: %s" % opts_)
    row = drv.find_element(By.CSS_SELECTOR, grant_row).text
    print("latest: " + row)
    # German notation of the amount and the date in the summary
    if "143.000,00\u00a0€" not in drv.find_element(By.CSS_SELECTOR, grant_row).get_attribute("textContent"):
        fail("the grant's amount is not in German notation: " + row)
    if "05.12.2022" not in row:
        fail("the grant's date is not in German notation: " + row)
    page("history-latest")
    # one type only
    Select(drv.find_element(By.ID, "hist-type")).select_by_value("aid.delivered")
    drv.find_element(By.ID, "hist-show").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#hist-table tbody tr") and all(
        r.get_attribute("data-type") == "aid.delivered"
        for r in d.find_elements(By.CSS_SELECTOR, "#hist-table tbody tr")))
    page("history-latest-delivered")

    # the shipment's timeline: dispatched by us, then delivered by the receiver
    search(a.shipment, 2)
    tl = timeline()
    print("shipment timeline: %s" % tl)
    if not (a.org in tl[0][3] and a.receiver in tl[1][3]):
        fail("who reported each version is not shown: %s" % tl)
    if drv.find_elements(By.CSS_SELECTOR, '#hist-tl tr[data-type="aid.delivered"] button.hist-edit'):
        fail("the receiver's confirmation can be edited by the sender")
    if not drv.find_elements(By.CSS_SELECTOR, '#hist-tl tr[data-type="aid.dispatched"] button.hist-edit'):
        fail("our own shipment cannot be edited")
    page("history-timeline-shipment")

    # the grant: one version; edit it from there
    Select(drv.find_element(By.ID, "hist-type")).select_by_value("")
    search(a.grant, 1)
    page("history-timeline-grant")
    first_event = drv.find_element(By.CSS_SELECTOR, "#hist-tl tbody tr").get_attribute("data-event")
    drv.find_element(By.CSS_SELECTOR, "#hist-tl button.hist-edit").click()
    visible("page-publish")
    wait.until(EC.presence_of_element_located((By.ID, "hist-editing")))
    wait.until(lambda d: field("/grant_id").get_attribute("value") == a.grant)
    if field("/grant_id").get_attribute("readonly") is None:
        fail("the grant id can be changed in a new version")
    if Select(drv.find_element(By.ID, "etype")).first_selected_option.get_attribute("value") != "funds.granted":
        fail("edit did not open the funds.granted form")
    eid = field("/event_id").get_attribute("value")
    if eid == first_event or len(eid) != 36:
        fail("the new version does not get a new event_id: %r" % eid)
    amount = field("/amount").get_attribute("value")
    if amount not in ("143000,00", "143.000,00"):
        fail("the amount was not filled in German notation: %r" % amount)
    purpose = field("/purpose").get_attribute("value")
    if "Notstromaggregaten" not in purpose:
        fail("the purpose was not filled from the latest version: %r" % purpose)
    if field("/granted_on").get_attribute("value") != "2022-12-05":
        fail("the date was not filled: %r" % field("/granted_on").get_attribute("value"))
    if Select(field("/grantor/kind")).first_selected_option.get_attribute("value") != "STATE_GOVERNMENT":
        fail("the grantor's kind was not filled")
    page("history-edit-form")
    field("/amount").clear()
    field("/amount").send_keys("150.500,00")
    drv.find_element(By.ID, "publish-btn").click()
    text_is(By.ID, "pubresult", "funds.granted")
    print("console: " + drv.find_element(By.ID, "pubresult").text)
    page("history-edit-published")

    # back to the history: the grant has two versions now, ours both
    drv.find_element(By.ID, "nav-history").click()
    visible("page-history")
    search(a.grant, 2)
    tl = timeline()
    print("grant timeline: %s" % tl)
    if "143.000,00" not in tl[0][4] or "150.500,00" not in tl[1][4]:
        fail("the versions' amounts are not in order: %s" % tl)
    if not all(a.org in r[3] for r in tl):
        fail("the reporting organisation is not shown on each version: %s" % tl)
    edits = drv.find_elements(By.CSS_SELECTOR, "#hist-tl button.hist-edit")
    if len(edits) != 1 or drv.find_elements(By.CSS_SELECTOR, '#hist-tl tr[data-version="1"] button.hist-edit'):
        fail("edit should be offered on the latest version only")
    if drv.find_element(By.CSS_SELECTOR, '#hist-tl tr[data-version="2"]').get_attribute("data-event") != eid:
        fail("the second version is not the event published from the form")
    page("history-timeline-grant-2")

    # Ukrainian: labels and notation follow
    lang("uk")
    text_is(By.CSS_SELECTOR, "#page-history h1", "Історія")
    wait.until(lambda d: "150\u00a0500,00" in d.find_element(By.CSS_SELECTOR, "#hist-tl").get_attribute("textContent"))
    page("history-uk")
    lang("de")
    text_is(By.CSS_SELECTOR, "#page-history h1", "Verlauf")
