"""The web console in a real browser: headless Chromium (Debian's chromium and chromium-driver)
driven by Selenium, against a real sigil-server. Saves the screenshots in docs/images/.

The tests run in file order and share one server and one browser (starting Chromium costs
seconds on a loaded machine); each leaves the page signed in as the org token unless it says.
"""

import json
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import ROOT, SIGIL_BIN, Env, cli_issue

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
IMAGES = ROOT / "docs/images"

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import Select, WebDriverWait
except ImportError:  # pragma: no cover - reported by the skip below
    webdriver = None

pytestmark = pytest.mark.skipif(
    webdriver is None or CHROMIUM is None or CHROMEDRIVER is None,
    reason="browser tests need chromium, chromium-driver (apt-get install chromium chromium-driver) "
    "and selenium (pip install selenium); .ci/run installs them")


def chromium(user_data_dir):
    """Headless Chromium at a fixed size and language, its browser log kept: the one set-up every
    browser test of Server/tests uses."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,900", "--force-device-scale-factor=1", "--lang=en-US",
                "--disable-extensions", "--no-first-run", f"--user-data-dir={user_data_dir}"]:
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    return driver


def console_with_browser(prefix, expected_statuses=(401, 403, 422)):
    """A server and a browser on it for a module's tests; afterwards the page must have logged no
    error but the answers with `expected_statuses` the tests provoke."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    e = Env(root, "--failed-auth-burst", "100000")
    driver = chromium(root / "chromium")
    e.driver = driver
    e.url = f"http://127.0.0.1:{e.server.port}/"
    try:
        yield e
        errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"
                  and not any(f"status of {code}" in entry["message"] for code in expected_statuses)]
        assert not errors, f"the page logged errors: {errors}"
    finally:
        driver.quit()
        e.close()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def console():
    yield from console_with_browser("sigil-console-test-")


def wait(driver, condition, timeout=10):
    return WebDriverWait(driver, timeout).until(condition)


def visible(driver, css, timeout=10):
    return wait(driver, EC.visibility_of_element_located((By.CSS_SELECTOR, css)), timeout)


def heading(driver, text, timeout=10):
    wait(driver, EC.text_to_be_present_in_element((By.CSS_SELECTOR, "main h1"), text), timeout)


def sign_in(e, token):
    d = e.driver
    d.get(e.url)
    box = visible(d, "input[type=password][name=token]")
    box.send_keys(token)
    box.send_keys(Keys.ENTER)
    heading(d, "Tokens")
    wait(d, lambda d: d.find_elements(By.CSS_SELECTOR, "table.tokens tbody tr"))


def sign_out(e):
    e.driver.find_element(By.ID, "signout").click()
    visible(e.driver, "input[type=password][name=token]")


def fetch(driver, method, path, body=None, csrf=True):
    """Calls the API from the page with its cookie, like the page would (or without CSRF)."""
    return driver.execute_async_script(
        """
        const [method, path, body, withCSRF, done] = arguments;
        (async () => {
          const me = await (await fetch('/v1/session')).json();
          const headers = {'Content-Type': 'application/json'};
          if (withCSRF) headers['X-CSRF-Token'] = me.csrf_token;
          const r = await fetch(path, {method, headers, body: body === null ? undefined : JSON.stringify(body)});
          let data = null;
          try { data = await r.json(); } catch {}
          done({status: r.status, body: data});
        })().catch((e) => done({status: -1, body: String(e)}));
        """, method, path, body, csrf)


def rows(driver):
    return driver.find_elements(By.CSS_SELECTOR, "table.tokens tbody tr[data-guid]")


def names(driver):
    """The names in the list, read in one script so a re-render cannot leave stale elements."""
    return driver.execute_script(
        "return [...document.querySelectorAll('table.tokens tbody tr[data-guid] td[data-label=Name]')]"
        ".map((td) => td.textContent)")


def statuses(driver):
    return driver.execute_script(
        "return [...document.querySelectorAll('table.tokens tbody tr[data-guid] td[data-label=Status]')]"
        ".map((td) => td.textContent)")


def verify(e, token, audience, revocations=None):
    """`sigil verify` reading the token from stdin (never argv); returns (exit code, JSON)."""
    args = [SIGIL_BIN, "--home", str(e.home), "verify", "-", "--audience", audience, "--json"]
    if revocations:
        args += ["--revocations", str(revocations)]
    r = subprocess.run(args, input=token + "\n", capture_output=True, text=True, timeout=60)
    return r.returncode, json.loads(r.stdout) if r.stdout.strip() else {}


def screenshot(driver, name, height=900):
    """Saves the viewport at 1280 x `height` into docs/images/, without a focus ring."""
    IMAGES.mkdir(parents=True, exist_ok=True)
    driver.set_window_size(1280, height)
    driver.execute_script("if (!document.querySelector('dialog[open]')) document.activeElement.blur()")
    time.sleep(0.3)
    driver.save_screenshot(str(IMAGES / name))
    driver.set_window_size(1280, 900)


# --- tests, in order ---------------------------------------------------------------------------


def test_sign_in_with_a_bad_token_shows_the_error_in_words(console):
    d = console.driver
    d.get(console.url)
    box = visible(d, "input[type=password][name=token]")
    assert d.find_element(By.CSS_SELECTOR, "label[for=%s]" % box.get_attribute("id")).text == "API token"
    box.send_keys("sgl_not-a-token")
    box.send_keys(Keys.ENTER)
    error = visible(d, "form.signin .error")
    assert "refused" in error.text
    assert d.execute_script("return localStorage.length + sessionStorage.length") == 0


def test_sign_in(console):
    sign_in(console, console.org_token)
    d = console.driver
    assert "sgl_" not in d.current_url
    assert d.execute_script("return document.cookie") == "", "the session cookie is HttpOnly"
    assert d.execute_script("return localStorage.length + sessionStorage.length") == 0
    assert d.find_element(By.ID, "nav-create").is_displayed()


CREATED = {}


@pytest.mark.parametrize("kind", ["all", "read-only", "custom"])
def test_create_one_token_of_each_scope_kind(console, kind):
    d = console.driver
    d.get(console.url + "#/create")
    heading(d, "Create token")
    save = d.find_element(By.ID, "create-save")
    assert not save.is_enabled(), "Save stays disabled until the form is valid"
    d.find_element(By.ID, "token-name").send_keys(f"console {kind}")
    d.find_element(By.ID, "token-description").send_keys("made in the browser test")
    d.find_element(By.ID, "token-audience").send_keys("billing")
    d.find_element(By.CSS_SELECTOR, f"input[name=scope-kind][value={kind}]").click()
    if kind == "custom":
        assert not save.is_enabled(), "a custom scope needs at least one action"
        resource = d.find_element(By.CSS_SELECTOR, "input[data-resource=devices]")
        hint = d.find_element(By.ID, resource.get_attribute("aria-describedby")).text
        assert "added to devices later are not included" in hint
        resource.click()
        d.find_element(By.CSS_SELECTOR, "input[data-pair='users.list']").click()
        # Every box has a label.
        for box in d.find_elements(By.CSS_SELECTOR, "#custom-scope input"):
            assert d.find_elements(By.CSS_SELECTOR, f"label[for='{box.get_attribute('id')}']")
        d.execute_script("window.scrollTo(0, 0)")
        screenshot(d, "console-create.png", height=1500)
    wait(d, lambda d: save.is_enabled())
    save.click()
    dialog = visible(d, "dialog[open]")
    token = d.find_element(By.ID, "new-token").get_attribute("value")
    assert token.startswith("sgl_")
    assert "shown" in dialog.text and "never stores it" in dialog.text
    close = d.find_element(By.ID, "close-token")
    assert not close.is_enabled(), "Close waits for the tick"
    assert d.find_element(By.ID, "copy-token").is_displayed() and d.find_element(By.ID, "download-token").is_displayed()
    # Escape does not close it before the tick; Tab stays inside the dialog.
    d.find_element(By.ID, "new-token").send_keys(Keys.ESCAPE)
    assert d.find_elements(By.CSS_SELECTOR, "dialog[open]")
    for _ in range(8):
        d.switch_to.active_element.send_keys(Keys.TAB)
        assert d.execute_script("return document.activeElement.closest('dialog') !== null")
    if kind == "all":
        # The screenshot is committed: it shows a stand-in of the same shape, never a real token.
        text = d.find_element(By.ID, "new-token")
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        stand_in = "sgl_" + "".join(secrets.choice(alphabet) for _ in range(len(token) - 4))
        d.execute_script("arguments[0].value = arguments[1]", text, stand_in)
        screenshot(d, "console-token-dialog.png")
        d.execute_script("arguments[0].value = arguments[1]", text, token)
    d.find_element(By.ID, "copied-tick").click()
    wait(d, lambda d: close.is_enabled())
    close.click()
    heading(d, f"console {kind}")
    assert not d.find_elements(By.CSS_SELECTOR, "dialog[open]")
    assert token not in d.page_source, "the token leaves the page with the dialog"
    CREATED[kind] = (token, d.current_url.rsplit("/", 1)[1])


def test_each_created_token_verifies_with_its_scope(console):
    assert set(CREATED) == {"all", "read-only", "custom"}
    scopes = {}
    for kind, (token, guid) in CREATED.items():
        code, result = verify(console, token, "billing")
        assert code == 0 and result["valid"] is True and result["guid"] == guid, (kind, result)
        scopes[kind] = console.org.get(f"/v1/tokens/{guid}").json["scope"]
    assert scopes["all"] == "all" and scopes["read-only"] == "read-only"
    assert sorted(scopes["custom"]) == ["devices.create", "devices.delete", "devices.get", "devices.list",
                                        "devices.update", "users.list"]


def test_past_expiry_is_refused(console):
    d = console.driver
    d.get(console.url + "#/create")
    heading(d, "Create token")
    d.find_element(By.ID, "token-name").send_keys("past")
    d.find_element(By.ID, "token-audience").send_keys("billing")
    d.find_element(By.CSS_SELECTOR, "input[name=expiry][value=at]").click()
    field = visible(d, "#token-valid-to")
    d.execute_script(
        "arguments[0].value = '2020-01-01T10:00'; arguments[0].dispatchEvent(new Event('input', {bubbles: true}))",
        field)
    assert not d.find_element(By.ID, "create-save").is_enabled()
    assert "in the past" in d.find_element(By.ID, "create-problems").text
    d.find_element(By.CSS_SELECTOR, "input[name=expiry][value=default]").click()
    wait(d, lambda d: d.find_element(By.ID, "create-save").is_enabled())


def test_a_window_outside_the_lifetime_policy_is_refused_naming_it(console):
    console.cli("policy", "set", "--audience", "policed", "--max-lifetime", "30d")
    d = console.driver
    d.get(console.url + "#/tokens")  # the previous test left #/create: same hash, no fresh form
    heading(d, "Tokens")
    d.get(console.url + "#/create")
    heading(d, "Create token")
    d.find_element(By.ID, "token-name").send_keys("too long for the policy")
    d.find_element(By.ID, "token-audience").send_keys("policed")
    d.find_element(By.CSS_SELECTOR, "input[name=scope-kind][value=all]").click()
    save = d.find_element(By.ID, "create-save")
    wait(d, lambda d: save.is_enabled())
    save.click()  # the default window is a year
    alert = visible(d, "form.create p.error")
    wait(d, lambda d: "lifetime policy" in alert.text)
    assert "audience policed" in alert.text and "at most 30d" in alert.text
    assert not d.find_elements(By.ID, "new-token"), "no token was shown"
    assert "too long for the policy" not in console.cli("list").stdout
    console.cli("policy", "clear", "--audience", "policed")


def test_search_filter_and_sort(console):
    for name in ["zeta search", "alpha search", "mid search"]:
        console.create(name=name, audience="billing")
    _, inactive = console.create(name="sleepy search", audience="billing")
    assert console.org.post(f"/v1/tokens/{inactive['guid']}/deactivate").status == 200
    d = console.driver
    d.get(console.url + "#/tokens")
    heading(d, "Tokens")
    search = visible(d, "#search-name")
    search.send_keys("search")
    wait(d, lambda d: sorted(names(d)) == ["alpha search", "mid search", "sleepy search", "zeta search"])
    Select(d.find_element(By.ID, "sort")).select_by_value("name")
    wait(d, lambda d: names(d) == ["alpha search", "mid search", "sleepy search", "zeta search"])
    Select(d.find_element(By.ID, "filter-status")).select_by_value("inactive")
    wait(d, lambda d: names(d) == ["sleepy search"])
    Select(d.find_element(By.ID, "filter-status")).select_by_value("")
    search.clear()
    d.find_element(By.ID, "search-guid").send_keys(inactive["guid"][:8])
    d.find_element(By.ID, "search-apply").click()
    wait(d, lambda d: names(d) == ["sleepy search"])
    d.find_element(By.ID, "search-guid").clear()
    d.find_element(By.ID, "search-guid").send_keys(Keys.ENTER)  # Enter submits the search form
    # A write pair: the custom and the all-scoped tokens grant it, the read-only one does not.
    Select(d.find_element(By.ID, "filter-scope")).select_by_value("devices.create")
    wait(d, lambda d: "console custom" in names(d) and "console all" in names(d)
         and "console read-only" not in names(d))
    Select(d.find_element(By.ID, "filter-scope")).select_by_value("read-only")
    wait(d, lambda d: names(d) == ["console read-only"])
    Select(d.find_element(By.ID, "filter-scope")).select_by_value("")
    Select(d.find_element(By.ID, "sort")).select_by_value("created")


def test_bulk_revoke_three_and_verify_refuses_them(console):
    tokens = {}
    for i in range(3):
        tokens[f"bulk {i}"] = console.create(name=f"bulk {i}", audience="billing")
    d = console.driver
    d.get(console.url + "#/tokens")
    heading(d, "Tokens")
    search = visible(d, "#search-name")
    search.send_keys("bulk")
    wait(d, lambda d: sorted(names(d)) == ["bulk 0", "bulk 1", "bulk 2"])
    screenshot_list(d)
    for row in rows(d):
        row.find_element(By.CSS_SELECTOR, "input[type=checkbox]").click()
    assert d.find_element(By.ID, "selection-count").text == "3 tokens selected"
    d.find_element(By.CSS_SELECTOR, "button[data-bulk=revoke]").click()
    dialog = visible(d, "dialog[open]")
    assert "Revoke 3 tokens?" in dialog.text
    dialog.find_element(By.CSS_SELECTOR, "button.danger").click()
    wait(d, lambda d: statuses(d) == ["Revoked"] * 3)
    # Pull the list the server published and verify offline against it.
    pulled = console.root / "revocations.sgl"
    deadline = time.monotonic() + 20
    while True:
        subprocess.run([SIGIL_BIN, "--home", str(console.home), "revocations", "pull",
                        f"http://127.0.0.1:{console.server.port}/v1/revocations", "-o", str(pulled)],
                       capture_output=True, text=True, timeout=60, check=True)
        results = [verify(console, token, "billing", pulled) for token, _ in tokens.values()]
        if all(code != 0 for code, _ in results) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    for code, result in results:
        assert code != 0 and result["valid"] is False and result["reason"] == "revoked", result
    token, _ = CREATED["all"]
    assert verify(console, token, "billing", pulled)[0] == 0, "the others still verify"


def screenshot_list(d):
    """The list screenshot: all tokens, sorted by name, at a desktop width."""
    search = d.find_element(By.ID, "search-name")
    search.clear()
    search.send_keys(Keys.ENTER)
    wait(d, lambda d: len(rows(d)) >= 8)
    Select(d.find_element(By.ID, "sort")).select_by_value("name")
    wait(d, lambda d: names(d) == sorted(names(d)))
    screenshot(d, "console-tokens.png", height=1000)
    Select(d.find_element(By.ID, "sort")).select_by_value("created")
    search.send_keys("bulk")
    wait(d, lambda d: sorted(names(d)) == ["bulk 0", "bulk 1", "bulk 2"])


def test_detail_edit_and_delete(console):
    _, row = console.create(name="to delete", audience="billing")
    d = console.driver
    d.get(console.url + f"#/token/{row['guid']}")
    heading(d, "to delete (Active)")
    name = d.find_element(By.ID, "edit-name")
    name.clear()
    name.send_keys("to delete renamed")
    d.find_element(By.ID, "edit-save").click()
    heading(d, "to delete renamed")
    assert "issue" in d.find_element(By.ID, "events-title").find_element(By.XPATH, "..").text
    assert console.org.get(f"/v1/tokens/{row['guid']}").json["name"] == "to delete renamed"
    d.find_element(By.ID, "delete").click()
    dialog = visible(d, "dialog[open]")
    assert "Delete" in dialog.text
    dialog.find_element(By.CSS_SELECTOR, "button.danger").click()
    heading(d, "Tokens")
    assert console.org.get(f"/v1/tokens/{row['guid']}").status == 404


def test_detail_shows_tokens_it_created_and_revoke_disables(console):
    token, guid = CREATED["all"]
    console.create(name="child of console all", audience="billing", client=console.server.client(token))
    d = console.driver
    d.get(console.url + f"#/token/{guid}")
    heading(d, "console all")
    children = d.find_element(By.ID, "children-title").find_element(By.XPATH, "..")
    wait(d, lambda d: len(children.find_elements(By.CSS_SELECTOR, "a")) == 1)
    d.find_element(By.ID, "revoke").click()
    visible(d, "dialog[open]").find_element(By.CSS_SELECTOR, "button.danger").click()
    heading(d, "(Revoked)")
    assert not d.find_element(By.ID, "revoke").is_enabled()


def test_audit_filters(console):
    d = console.driver
    d.get(console.url + "#/audit")
    heading(d, "Audit")
    Select(d.find_element(By.ID, "audit-action")).select_by_value("revoke")
    wait(d, lambda d: set(d.execute_script(
        "return [...document.querySelectorAll('.events-table tbody td[data-label=Action]')].map((td) => td.textContent)"
    )) == {"revoke"})
    actor = d.find_element(By.ID, "audit-actor")
    actor.send_keys("nobody-at-all")
    actor.send_keys(Keys.ENTER)
    wait(d, lambda d: "No event matches." in d.find_element(By.CSS_SELECTOR, ".events-table tbody").text)


def test_a_request_without_the_csrf_header_is_refused(console):
    d = console.driver
    _, row = console.create(name="csrf target", audience="billing")
    refused = fetch(d, "POST", "/v1/tokens/bulk", {"action": "revoke", "guids": [row["guid"]]}, csrf=False)
    assert refused["status"] == 403 and refused["body"]["error"] == "csrf_failed"
    assert console.org.get(f"/v1/tokens/{row['guid']}").json["status"] == "active"


def test_narrow_screen_and_keyboard(console):
    d = console.driver
    d.set_window_size(360, 800)
    try:
        d.get(console.url + "#/tokens")
        heading(d, "Tokens")
        wait(d, lambda d: rows(d))
        assert d.execute_script("return document.documentElement.scrollWidth") <= 360 + 1
        d.get(console.url + "#/create")
        heading(d, "Create token")
        assert d.execute_script("return document.documentElement.scrollWidth") <= 360 + 1
        # Keyboard: Tab reaches the name field from the page heading.
        d.switch_to.active_element.send_keys(Keys.TAB)
        for _ in range(20):
            if d.switch_to.active_element.get_attribute("id") == "token-name":
                break
            d.switch_to.active_element.send_keys(Keys.TAB)
        assert d.switch_to.active_element.get_attribute("id") == "token-name"
    finally:
        d.set_window_size(1280, 900)


def test_sign_out(console):
    sign_out(console)
    d = console.driver
    assert fetch(d, "GET", "/v1/tokens", csrf=False)["status"] == 401
    d.get(console.url + "#/tokens")
    visible(d, "input[type=password][name=token]")


def test_read_only_token_sees_no_write_controls_and_gets_403(console):
    reader, _ = cli_issue(console.home, "console reader", "sigil", "--read-only")
    _, row = console.create(name="reader target", audience="billing")
    sign_in(console, reader)
    d = console.driver
    assert not d.find_element(By.ID, "nav-create").is_displayed()
    assert not d.find_elements(By.CSS_SELECTOR, "a.button.primary[href='#/create']")
    assert not d.find_elements(By.CSS_SELECTOR, "button[data-bulk]")
    assert not d.find_elements(By.CSS_SELECTOR, "table.tokens tbody input[type=checkbox]")
    d.get(console.url + f"#/token/{row['guid']}")
    heading(d, "reader target")
    for control in ["revoke", "delete", "deactivate", "edit-save"]:
        assert not d.find_elements(By.ID, control), control
    d.get(console.url + "#/create")
    heading(d, "Create token")
    assert not d.find_elements(By.ID, "create-save")
    for method, path, body in [
        ("POST", "/v1/tokens", {"name": "n", "audience": "billing", "scope": "read-only"}),
        ("POST", f"/v1/tokens/{row['guid']}/revoke", None),
        ("POST", "/v1/tokens/bulk", {"action": "revoke", "guids": [row["guid"]]}),
        ("DELETE", f"/v1/tokens/{row['guid']}", None),
    ]:
        answer = fetch(d, method, path, body)
        assert answer["status"] == 403 and answer["body"]["error"] == "insufficient_scope", (method, path, answer)
    sign_out(console)


def test_revoking_the_signed_in_token_signs_the_page_out(console):
    token, guid = cli_issue(console.home, "console self", "sigil", "--all")
    sign_in(console, token)
    console.cli("revoke", guid, "--yes")
    d = console.driver
    d.find_element(By.ID, "nav-audit").click()  # the next API call is refused: back to sign-in
    error = visible(d, "form.signin .error")
    assert "refused (revoked)" in error.text, error.text
    d.refresh()  # the server ended the session for good: a reload says so too
    error = visible(d, "form.signin .error")
    assert "session ended" in error.text, error.text
