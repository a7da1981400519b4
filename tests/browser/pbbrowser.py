"""What the console's browser tests share: Debian's Chromium through its
chromedriver (nothing downloads a browser), German as the preferred
language, and a page check that screenshots what is shown and runs
axe-core on it (WCAG 2.1 A and AA rules; serious or critical findings are
failures, every finding is printed)."""
import os
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

AXE_RUN = (
    "var cb = arguments[arguments.length - 1];"
    "axe.run(document, {runOnly: {type: 'tag', values: "
    "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"
    ".then(function (r) { cb(r.violations.map(function (v) {"
    " return {id: v.id, impact: v.impact, help: v.help,"
    " nodes: v.nodes.map(function (n) { return n.target.join(' '); })};"
    "})); }, function (e) { cb([{id: 'axe-error', impact: 'critical',"
    " help: String(e), nodes: []}]); });")


class Browser:
    def __init__(self, shots, axe_path):
        os.makedirs(shots, exist_ok=True)
        self.shots = shots
        self.axe_src = open(axe_path).read()
        opts = webdriver.ChromeOptions()
        opts.binary_location = "/usr/bin/chromium"
        for o in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                  "--window-size=1280,1600", "--lang=de-DE"):
            opts.add_argument(o)
        opts.add_experimental_option("prefs", {"intl.accept_languages": "de-DE,de,en"})
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.drv = webdriver.Chrome(
            service=Service(executable_path="/usr/bin/chromedriver"), options=opts)
        self.wait = WebDriverWait(self.drv, 20)
        self.failures = []
        self.nshot = 0
        self.t0 = time.time()

    def fail(self, msg):
        print("FAIL: " + msg, file=sys.stderr)
        self.failures.append(msg)

    def page(self, name, axe=True):
        """Screenshot and axe-core check of what is shown now (axe=False: a
        later state of a page axe already checked)."""
        self.nshot += 1
        print("%5.1f s: page %s" % (time.time() - self.t0, name))
        self.drv.save_screenshot(os.path.join(self.shots, "%02d-%s.png" % (self.nshot, name)))
        if not axe:
            return
        self.drv.execute_script(self.axe_src)
        res = self.drv.execute_async_script(AXE_RUN)
        for v in res:
            print("axe %s: %s %s: %s (%s)" % (name, v["impact"], v["id"], v["help"],
                                              ", ".join(v["nodes"][:5])))
            if v["impact"] in ("serious", "critical"):
                self.fail("axe %s on page %s" % (v["id"], name))
        if not res:
            print("axe %s: no violations" % name)

    def text_is(self, by, sel, want):
        self.wait.until(EC.text_to_be_present_in_element((by, sel), want))
