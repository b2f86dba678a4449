"""The console's token page as the seeds have it (#25 item 6) and its Members page (item 3), in
headless Chromium against a real sigil-server (see test_console_browser.py for the set-up).

The tests run in file order and share one server and one browser.
"""

import re
import shutil
import tempfile
from pathlib import Path

import pytest

from conftest import Env, cli_issue
from test_console_browser import (
    CHROMEDRIVER, CHROMIUM, By, Keys, Service, heading, names, rows, sign_in, visible, wait, webdriver,
)

pytestmark = pytest.mark.skipif(
    webdriver is None or CHROMIUM is None or CHROMEDRIVER is None,
    reason="browser tests need chromium, chromium-driver and selenium; .ci/run installs them")

V4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


@pytest.fixture(scope="module")
def console():
    root = Path(tempfile.mkdtemp(prefix="sigil-console-members-"))
    e = Env(root, "--failed-auth-burst", "100000")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,900", "--force-device-scale-factor=1", "--lang=en-US",
                "--disable-extensions", "--no-first-run", f"--user-data-dir={root / 'chromium'}"]:
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    e.driver = driver
    e.url = f"http://127.0.0.1:{e.server.port}/"
    try:
        yield e
        # 409: the chosen-GUID conflict this file provokes on purpose.
        errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"
                  and not any(f"status of {code}" in entry["message"] for code in (401, 403, 409, 422))]
        assert not errors, f"the page logged errors: {errors}"
    finally:
        driver.quit()
        e.close()
        shutil.rmtree(root, ignore_errors=True)


def fill_create_form(d, name, audience="billing"):
    d.get(d.current_url.split("#")[0] + "#/create")
    heading(d, "Create token")
    d.find_element(By.ID, "token-name").send_keys(name)
    d.find_element(By.ID, "token-audience").send_keys(audience)
    d.find_element(By.CSS_SELECTOR, "input[name=scope-kind][value=all]").click()


def submit_and_close(d):
    save = d.find_element(By.ID, "create-save")
    wait(d, lambda d: save.is_enabled())
    save.click()
    dialog = visible(d, "dialog[open]")
    shown = dialog.find_element(By.TAG_NAME, "code").text
    d.find_element(By.ID, "copied-tick").click()
    close = d.find_element(By.ID, "close-token")
    wait(d, lambda d: close.is_enabled())
    close.click()
    wait(d, lambda d: not d.find_elements(By.CSS_SELECTOR, "dialog[open]"))
    return shown


CREATED = {}


def test_the_create_form_shows_the_guid_before_the_token_exists(console):
    sign_in(console, console.org_token)
    d = console.driver
    fill_create_form(d, "guid shown first")
    box = d.find_element(By.ID, "token-guid")
    first = box.get_attribute("value")
    assert V4.match(first), first
    assert box.get_attribute("readonly") is not None
    label = d.find_element(By.CSS_SELECTOR, f"label[for='{box.get_attribute('id')}']").text
    assert "GUID" in label
    # Regenerate draws another random v4 GUID.
    d.find_element(By.ID, "regenerate-guid").click()
    second = box.get_attribute("value")
    assert V4.match(second) and second != first
    # Copy GUID puts it on the clipboard (or selects it where the clipboard is refused).
    d.find_element(By.ID, "copy-guid").click()
    wait(d, lambda d: "Copied" in d.find_element(By.ID, "status").text
         or "blocked" in d.find_element(By.ID, "status").text)
    shown = submit_and_close(d)
    # The token got exactly the GUID the form showed.
    assert shown == second
    heading(d, "guid shown first")
    assert d.current_url.endswith(f"#/token/{second}")
    row = console.org.get(f"/v1/tokens/{second}")
    assert row.status == 200 and row.json["name"] == "guid shown first"
    CREATED["shown"] = second


def test_a_used_guid_is_refused_and_a_new_one_drawn(console):
    d = console.driver
    fill_create_form(d, "second try")
    box = d.find_element(By.ID, "token-guid")
    # Stand in for a collision: the field holds a GUID the ledger already used.
    d.execute_script("arguments[0].value = arguments[1]", box, CREATED["shown"])
    d.find_element(By.ID, "create-save").click()
    error = visible(d, "form.create .error")
    assert "already used" in error.text
    fresh = box.get_attribute("value")
    assert V4.match(fresh) and fresh != CREATED["shown"] and fresh in error.text
    assert submit_and_close(d) == fresh
    heading(d, "second try")
    CREATED["second"] = fresh


def test_created_by_me_and_creators_by_name(console):
    d = console.driver
    # A token made on the issuer host (an OS user creator) and one by another token.
    _, cli_guid = cli_issue(console.home, "made on the host", "billing", "--all")
    other_token, _ = cli_issue(console.home, "Deploy bot", "sigil", "--all")
    _, by_bot = console.create(name="made by the bot", client=console.org.with_token(other_token))
    d.get(console.url + "#/tokens")
    heading(d, "Tokens")
    wait(d, lambda d: rows(d))
    everything = set(names(d))
    assert {"made on the host", "made by the bot", "guid shown first", "second try"} <= everything
    creators = d.execute_script(
        "return Object.fromEntries([...document.querySelectorAll('table.tokens tbody tr[data-guid]')]"
        ".map((tr) => [tr.querySelector('td[data-label=Name]').textContent,"
        " [tr.querySelector('td[data-label=Creator]').textContent,"
        "  tr.querySelector('td[data-label=Creator] [title]')?.getAttribute('title')]]))")
    assert creators["guid shown first"] == ["org admin", f"token:{console.org_guid}"]
    assert creators["made by the bot"][0] == "Deploy bot"
    assert not creators["made on the host"][0].startswith("token:")
    # Created by me: only what the signed-in org token made here.
    mine = d.find_element(By.ID, "filter-mine")
    assert d.find_element(By.CSS_SELECTOR, "label[for=filter-mine]").text == "Created by me"
    mine.click()
    wait(d, lambda d: "made on the host" not in names(d))
    shown = set(names(d))
    assert {"guid shown first", "second try"} <= shown
    assert "made by the bot" not in shown and "made on the host" not in shown
    mine.click()
    wait(d, lambda d: "made on the host" in names(d))
    CREATED["bot"] = by_bot["guid"]


def test_the_detail_page_names_the_creator_with_its_guid(console):
    d = console.driver
    d.get(console.url + f"#/token/{CREATED['bot']}")
    heading(d, "made by the bot")
    created_by = d.find_element(By.ID, "created-by")
    bot_guid = console.org.get(f"/v1/tokens/{CREATED['bot']}").json["parent"]
    assert created_by.text == f"Deploy bot (token {bot_guid})"
    link = created_by.find_element(By.TAG_NAME, "a")
    assert link.get_attribute("href").endswith(f"#/token/{bot_guid}")
    # Its audit events read the actor by name too.
    events = d.find_element(By.CSS_SELECTOR, "ul.events").text
    assert "issue by Deploy bot" in events


def test_the_audit_page_names_actors(console):
    d = console.driver
    d.get(console.url + "#/audit")
    heading(d, "Audit")
    wait(d, lambda d: d.find_elements(By.CSS_SELECTOR, "table.events-table tbody tr td[data-label=Actor]"))
    actors = d.execute_script(
        "return [...document.querySelectorAll('table.events-table td[data-label=Actor]')].map((td) => td.textContent)")
    assert "org admin" in actors and "Deploy bot" in actors
    assert not any(a.startswith("token:") and len(a) > 20 for a in actors), actors
    # The actor filter still takes the raw actor.
    box = d.find_element(By.ID, "audit-actor")
    box.send_keys(f"token:{console.org_guid}")
    box.send_keys(Keys.ENTER)
    wait(d, lambda d: set(d.execute_script(
        "return [...document.querySelectorAll('table.events-table td[data-label=Actor]')].map((td) => td.textContent)"))
        == {"org admin"})
