#!/usr/bin/python3
"""Drive the CYPHONIC web console in Debian's headless Chromium (selenium).

    console_browser.py enrol URL NAME PASSWORD PEER PEER_VIP4 NEWNODE CONFIG SHOT
    console_browser.py revoke URL NAME PASSWORD NODE REASON SHOT
    console_browser.py show URL NAME PASSWORD NODE=VIP4... SHOT

enrol: a wrong password is refused on the page; the right one logs in;
the search finds PEER with PEER_VIP4; NEWNODE is enrolled through the form
and its config downloaded to CONFIG.  revoke: NODE shows as registered,
is revoked through the dialog with REASON (HTML in it stays text); a
change without the CSRF token is refused; a session whose cookie is gone
is back at the login.  show: every NODE is in the table with its VIP4
(`make demo`).  Each phase saves a screenshot to SHOT.  Exits 0,
or 1 saying what failed (a screenshot of that moment beside SHOT)."""
import os
import shutil
import sys
import tempfile
import time

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

WAIT_S = 20


def browser(downloads):
    opts = webdriver.ChromeOptions()
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1400,1000", "--no-first-run", "--disable-extensions",
              "--disable-background-networking", "--disable-sync", "--lang=en-US",
              "--user-data-dir=" + os.path.join(downloads, "profile")):
        opts.add_argument(a)
    # console.pem is issued by the cloud's Ed25519 CA, which Chromium
    # does not verify (docs/console.md); TLS itself is checked by curl.
    opts.accept_insecure_certs = True
    opts.add_experimental_option("prefs", {
        "download.default_directory": downloads,
        "download.prompt_for_download": False,
    })
    d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    d.execute_cdp_cmd("Page.setDownloadBehavior",
                      {"behavior": "allow", "downloadPath": downloads})
    return d


class Failed(Exception):
    pass


def wait(d, cond, what):
    try:
        return WebDriverWait(d, WAIT_S, poll_frequency=0.1).until(cond)
    except TimeoutException:
        raise Failed("timed out waiting for " + what)


def text_of(d, id_):
    return d.find_element(By.ID, id_).text


def login(d, url, name, password):
    d.get(url + "/")
    wait(d, EC.visibility_of_element_located((By.ID, "login-name")), "the login form")
    d.find_element(By.ID, "login-name").clear()
    d.find_element(By.ID, "login-name").send_keys(name)
    d.find_element(By.ID, "login-password").clear()
    d.find_element(By.ID, "login-password").send_keys(password)
    d.find_element(By.ID, "login-submit").click()


def row(d, name):
    rows = d.find_elements(By.CSS_SELECTOR, "#nodes tbody tr[data-name='%s']" % name)
    return rows[0] if rows else None


# The table is redrawn every two seconds: read a row in one script, never
# through elements that may be gone by the next call.
def row_cells(d, name, attr=None):
    return d.execute_script("""
        const tr = document.querySelector(`#nodes tbody tr[data-name="${arguments[0]}"]`);
        if (!tr) return null;
        return [...tr.cells].map(td => arguments[1] ? td.getAttribute(arguments[1]) : td.textContent);
    """, name, attr)


def click_in_row(d, name, css):
    for _ in range(20):
        try:
            row(d, name).find_element(By.CSS_SELECTOR, css).click()
            return
        except (StaleElementReferenceException, AttributeError):
            time.sleep(0.05)
    raise Failed("cannot click %s in %s's row" % (css, name))


COLS = ["fqdn", "kind", "vip4", "vip6", "state", "observed", "nat", "host", "last_seen",
        "adapter", "mac", "tags"]


def cell(d, name, col):
    c = row_cells(d, name)
    return c[COLS.index(col)] if c else None


def enrol(d, url, name, password, peer, peer_vip4, newnode, config, downloads):
    # a wrong password: refused on the page, still at the login
    login(d, url, name, password + "x")
    wait(d, lambda d: text_of(d, "login-error") != "", "the login error")
    if "wrong name or password" not in text_of(d, "login-error"):
        raise Failed("login error says %r" % text_of(d, "login-error"))
    if d.find_element(By.ID, "app").is_displayed():
        raise Failed("the console opened after a wrong password")
    login(d, url, name, password)
    wait(d, EC.visibility_of_element_located((By.ID, "app")), "the console after login")
    cookie = d.get_cookie("__Host-cy_session")
    if not cookie or not cookie.get("httpOnly") or not cookie.get("secure") \
            or cookie.get("sameSite") != "Strict":
        raise Failed("session cookie %r" % cookie)
    # the table: find the peer with the search box
    wait(d, lambda d: row(d, peer) is not None, "%s in the table" % peer)
    d.find_element(By.ID, "search").send_keys(peer_vip4)
    wait(d, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#nodes tbody tr")) == 1,
         "the search to leave one row")
    if cell(d, peer, "vip4") != peer_vip4 or cell(d, peer, "state") != "registered":
        raise Failed("%s's row: %r" % (peer, row_cells(d, peer)))
    d.find_element(By.ID, "search").clear()
    d.find_element(By.ID, "search").send_keys(" ")   # clear() fires no input event
    # enrol a node; its config comes as a download
    d.find_element(By.ID, "enrol-name").send_keys(newnode)
    d.find_element(By.ID, "enrol-tags").send_keys("web")
    d.find_element(By.ID, "enrol-submit").click()
    wait(d, EC.visibility_of_element_located((By.ID, "enrol-download")), "the config link")
    if "%s." % newnode not in text_of(d, "enrol-result"):
        raise Failed("enrol result %r" % text_of(d, "enrol-result"))
    d.find_element(By.ID, "enrol-download").click()
    got = os.path.join(downloads, newnode + ".conf")
    wait(d, lambda d: os.path.exists(got) and os.path.getsize(got) > 0, "the download")
    shutil.copyfile(got, config)
    os.chmod(config, 0o600)
    wait(d, lambda d: row(d, newnode) is not None, "%s in the table" % newnode)


def revoke(d, url, name, password, node, reason):
    login(d, url, name, password)
    wait(d, EC.visibility_of_element_located((By.ID, "app")), "the console after login")
    wait(d, lambda d: cell(d, node, "state") == "registered", "%s registered" % node)
    if cell(d, node, "nat") != "yes":
        raise Failed("%s not shown behind NAPT: %r" % (node, row_cells(d, node)))
    # a change without the CSRF token, from the page itself: refused
    status = d.execute_async_script("""
        const done = arguments[arguments.length - 1];
        fetch('/api/revoke', {method: 'POST', credentials: 'same-origin',
                              body: new URLSearchParams({name: arguments[0]})})
          .then(r => done(r.status), e => done(String(e)));""", node)
    if status != 403:
        raise Failed("a revoke without the CSRF token got %r" % status)
    if cell(d, node, "state") != "registered":
        raise Failed("%s changed by a request without the CSRF token" % node)
    # revoke through the dialog
    click_in_row(d, node, "button.revoke")
    wait(d, EC.visibility_of_element_located((By.ID, "revoke-reason")), "the dialog")
    if node not in text_of(d, "revoke-name"):
        raise Failed("the dialog names %r" % text_of(d, "revoke-name"))
    d.find_element(By.ID, "revoke-reason").send_keys(reason)
    d.find_element(By.ID, "revoke-confirm").click()
    wait(d, lambda d: cell(d, node, "state") == "revoked", "%s revoked" % node)
    title = row_cells(d, node, "title")[COLS.index("state")]
    if title != reason:
        raise Failed("the reason shown is %r" % title)
    injected = d.execute_script(
        "return document.querySelectorAll('#nodes img, #nodes script').length")
    if injected:
        raise Failed("the reason's markup became %d elements" % injected)
    if d.execute_script("return window.__pwned === true"):
        raise Failed("the reason's script ran")


def show(d, url, name, password, pairs):
    login(d, url, name, password)
    wait(d, EC.visibility_of_element_located((By.ID, "app")), "the console after login")
    for pair in pairs:
        node, vip4 = pair.split("=", 1)
        wait(d, lambda d: cell(d, node, "vip4") == vip4, "%s with %s in the table" % (node, vip4))
    d.set_window_size(1400, 200 + 32 * len(pairs) + 900)


def session_gone(d, url):
    # the cookie gone (expired, another browser): back at the login
    d.delete_cookie("__Host-cy_session")
    d.get(url + "/")
    wait(d, EC.visibility_of_element_located((By.ID, "login-form")), "the login form")
    if d.find_element(By.ID, "app").is_displayed():
        raise Failed("the console shown without a session")


def main(argv):
    phase, url = argv[1], argv[2]
    downloads = tempfile.mkdtemp(prefix="cy-browser-")
    shot = argv[-1]
    d = browser(downloads)
    try:
        if phase == "enrol":
            _, _, _, name, pw, peer, peer_vip4, newnode, config, _ = argv
            enrol(d, url, name, pw, peer, peer_vip4, newnode, config, downloads)
            d.save_screenshot(shot)
        elif phase == "show":
            show(d, url, argv[3], argv[4], argv[5:-1])
            d.save_screenshot(shot)
        elif phase == "revoke":
            _, _, _, name, pw, node, reason, _ = argv
            revoke(d, url, name, pw, node, reason)
            d.save_screenshot(shot)
            session_gone(d, url)
        else:
            raise Failed("unknown phase " + phase)
    except Failed as e:
        d.save_screenshot(shot.replace(".png", "-failed.png"))
        print("console_browser: %s: %s" % (phase, e), file=sys.stderr)
        return 1
    finally:
        d.quit()
        shutil.rmtree(downloads, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
