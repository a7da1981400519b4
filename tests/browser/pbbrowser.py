"""What the console's browser tests share: Debian's Chromium through its
chromedriver (nothing downloads a browser), German as the preferred
language, and a page check that screenshots what is shown and runs
axe-core on it (WCAG 2.1 A and AA rules; serious or critical findings are
failures, every finding is printed)."""
import argparse
import contextlib
import os
import sys
import time

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

def waiter(drv, seconds):
    """A WebDriverWait for which a condition that reads elements the page
    re-renders meanwhile (a table refilled by a fetch) is asked again on
    the next poll, not failed: the element it held is gone, the new one is
    read next time. A condition that never holds still times out."""
    return WebDriverWait(drv, seconds,
                         ignored_exceptions=(StaleElementReferenceException,))


# the options every console test takes
COMMON_OPTIONS = ("--admin", "--token-file", "--org", "--org-name",
                  "--shipment", "--axe", "--shots")

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
        self.wait = waiter(self.drv, 20)
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

    def visible(self, element_id):
        self.wait.until(EC.visibility_of_element_located((By.ID, element_id)))

    def field(self, ptr):
        """The input of the publish form at JSON pointer ptr."""
        return self.drv.find_element(By.CSS_SELECTOR, '#pubform [name="%s"]' % ptr)

    def lang(self, code):
        """Switches the console's language."""
        Select(self.drv.find_element(By.ID, "lang")).select_by_value(code)

    def open_console(self, admin):
        """Opens the console of the admin server at URL admin: its sign-in page."""
        self.drv.set_script_timeout(30)
        self.drv.get(admin + "/console/")
        self.visible("page-signin")

    def sign_in(self, tok, shown="page-home"):
        """Submits token tok on the sign-in page, then waits until the element
        shown is visible (None: does not wait)."""
        self.drv.find_element(By.ID, "token").send_keys(tok)
        self.drv.find_element(By.CSS_SELECTOR, "#signin button").click()
        if shown:
            self.visible(shown)

    @contextlib.contextmanager
    def run(self, name, at_end=None):
        """The body of test `name`: if it raises, a screenshot and what the page
        says; in any case at_end(), the browser's console log and the end of
        the browser; then the verdict (exit status 1 with the failures)."""
        try:
            yield
        except Exception:
            self.drv.save_screenshot(os.path.join(self.shots, "99-failure.png"))
            print("status: %r" % self.drv.find_element(By.ID, "status").text)
            for e in self.drv.find_elements(By.CSS_SELECTOR, ".err"):
                if e.text:
                    print("field error: %s" % e.text)
            raise
        finally:
            if at_end:
                at_end()
            try:
                for e in self.drv.get_log("browser"):
                    print("browser console: %s %s" % (e.get("level"), e.get("message")))
            except Exception as e:  # not every driver keeps the log
                print("browser console log unavailable: %s" % e)
            self.drv.quit()
        if self.failures:
            sys.exit("%s: %d failure(s): %s" % (name, len(self.failures),
                                                "; ".join(self.failures)))
        print("%s: ok (%d pages)" % (name, self.nshot))


def session(*more):
    """Parses the command line (COMMON_OPTIONS and the options more, all
    required) and starts the browser: (options, the token of --token-file,
    Browser)."""
    ap = argparse.ArgumentParser()
    for name in COMMON_OPTIONS + more:
        ap.add_argument(name, required=True)
    a = ap.parse_args()
    return a, open(a.token_file).read().strip(), Browser(a.shots, a.axe)
