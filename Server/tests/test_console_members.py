"""The console's token page as the seeds have it (#25 item 6) and its Members page (item 3), in
headless Chromium against a real sigil-server (see test_console_browser.py for the set-up).

The tests run in file order and share one server and one browser.
"""

import re

import pytest

from conftest import cli_issue
from test_console_browser import (
    CHROMEDRIVER, CHROMIUM, By, Keys, console_with_browser, heading, names, rows, sign_in, visible, wait, webdriver,
)

pytestmark = pytest.mark.skipif(
    webdriver is None or CHROMIUM is None or CHROMEDRIVER is None,
    reason="browser tests need chromium, chromium-driver and selenium; .ci/run installs them")

V4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


@pytest.fixture(scope="module")
def console():
    # 409: the chosen-GUID conflict this file provokes on purpose.
    yield from console_with_browser("sigil-console-members-", (401, 403, 409, 422))


def fill_create_form(d, name, audience="billing", pair=None):
    d.get(d.current_url.split("#")[0] + "#/create")
    heading(d, "Create token")
    d.find_element(By.ID, "token-name").send_keys(name)
    audience_box = d.find_element(By.ID, "token-audience")
    if audience_box.tag_name == "input":
        audience_box.send_keys(audience)
    if pair is None:
        d.find_element(By.CSS_SELECTOR, "input[name=scope-kind][value=all]").click()
    else:
        d.find_element(By.CSS_SELECTOR, "input[name=scope-kind][value=custom]").click()
        d.find_element(By.CSS_SELECTOR, f"input[data-pair='{pair}']").click()


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


# --- the Members page (#25 item 3) ------------------------------------------------------------


def member_session_cookie(console, member):
    """A member's session, written as single sign-on would open it (test_members.member_session),
    handed to the browser as its HttpOnly cookie."""
    from test_members import member_session
    s = member_session(console, member)
    d = console.driver
    d.get(console.url)  # the origin's page (signed out: its GET /v1/session is 401), to set its cookie
    d.delete_all_cookies()
    d.add_cookie({"name": "sigil_session", "value": s.id, "path": "/", "httpOnly": True, "sameSite": "Strict"})
    return s


def member_row(d, email):
    rows = d.find_elements(By.CSS_SELECTOR, f"table.members tbody tr[data-email='{email}']")
    return rows[0] if rows else None


def member_text(d, email):
    """A member row's text, read in one script (a re-render cannot leave a stale element); None
    when the row is not shown."""
    return d.execute_script(
        "const tr = document.querySelector(`table.members tbody tr[data-email='${arguments[0]}']`);"
        "return tr ? tr.textContent : null;", email)


def click_in_row(d, email, act):
    wait(d, lambda d: d.execute_script(
        "const b = document.querySelector(`table.members tbody tr[data-email='${arguments[0]}'] button[data-act=${arguments[1]}]`);"
        "if (b) b.click(); return Boolean(b);", email, act))


def test_members_page_adds_edits_suspends_activates_and_removes(console):
    d = console.driver
    # A member never expires, so only a never-expiring caller may add one.
    admin_token, _ = cli_issue(console.home, "people admin", "sigil", "--all", "--never-expires")
    d.find_element(By.ID, "signout").click()
    visible(d, "input[type=password][name=token]")
    sign_in(console, admin_token)
    nav = d.find_element(By.ID, "nav-members")
    assert nav.is_displayed()
    nav.click()
    heading(d, "Members")
    # Add.
    d.find_element(By.ID, "member-email").send_keys("Ada.Lovelace@Example.com")
    d.find_element(By.ID, "member-name").send_keys("Ada Lovelace")
    d.find_element(By.ID, "member-audience").send_keys("sigil")
    d.find_element(By.ID, "member-scope-read-only").click()
    for box in d.find_elements(By.CSS_SELECTOR, "#add-member input"):
        assert d.find_elements(By.CSS_SELECTOR, f"label[for='{box.get_attribute('id')}']"), box.get_attribute("id")
    d.find_element(By.ID, "member-add").click()
    wait(d, lambda d: member_row(d, "ada.lovelace@example.com"))
    row = member_row(d, "ada.lovelace@example.com")
    cells = [td.text for td in row.find_elements(By.TAG_NAME, "td")]
    assert cells[:5] == ["Ada Lovelace", "ada.lovelace@example.com", "sigil", "Read only", "Active"], cells
    assert cells[5] == "people admin" and cells[6] == "never"
    from test_console_browser import screenshot
    d.execute_script("window.scrollTo(0, 0); document.getElementById('status').classList.remove('shown')")
    screenshot(d, "console-members.png")
    # The same email again: the server's 409 in its words.
    d.find_element(By.ID, "member-email").send_keys("ADA.LOVELACE@example.com")
    d.find_element(By.ID, "member-name").send_keys("Twin")
    d.find_element(By.ID, "member-add").click()
    error = visible(d, "#add-member .error")
    assert "ada.lovelace@example.com" in error.text and "token" not in error.text, error.text
    # Edit the name.
    click_in_row(d, "ada.lovelace@example.com", "edit")
    box = visible(d, "#edit-member-name")
    box.clear()
    box.send_keys("Ada King")
    d.find_element(By.ID, "edit-member-save").click()
    wait(d, lambda d: not d.find_elements(By.CSS_SELECTOR, "dialog[open]"))
    wait(d, lambda d: (member_text(d, "ada.lovelace@example.com") or "").startswith("Ada King"))
    # Suspend with the cascade: the tokens the member created are deactivated.
    _, made = cli_issue(console.home, "Ada's deploy", "billing", "--all", "--created-by",
                        "member:ada.lovelace@example.com")
    click_in_row(d, "ada.lovelace@example.com", "suspend")
    visible(d, "dialog[open]")
    d.find_element(By.ID, "suspend-cascade").click()
    d.find_element(By.ID, "suspend-confirm").click()
    wait(d, lambda d: "1 token deactivated" in d.find_element(By.ID, "status").text)
    wait(d, lambda d: "Suspended" in (member_text(d, "ada.lovelace@example.com") or ""))
    assert console.org.get(f"/v1/tokens/{made}").json["status"] == "inactive"
    # The status filter.
    from test_console_browser import Select
    Select(d.find_element(By.ID, "members-status")).select_by_value("active")
    wait(d, lambda d: member_text(d, "ada.lovelace@example.com") is None)
    Select(d.find_element(By.ID, "members-status")).select_by_value("")
    wait(d, lambda d: member_text(d, "ada.lovelace@example.com"))
    # Activate.
    click_in_row(d, "ada.lovelace@example.com", "activate")
    wait(d, lambda d: "Active" in (member_text(d, "ada.lovelace@example.com") or ""))
    # Remove, after a confirmation.
    click_in_row(d, "ada.lovelace@example.com", "remove")
    dialog = visible(d, "dialog[open]")
    assert "Remove Ada King?" in dialog.text
    dialog.find_element(By.CSS_SELECTOR, "button.danger").click()
    wait(d, lambda d: member_text(d, "ada.lovelace@example.com") is None)
    console.admin_token = admin_token


def test_the_header_shows_the_signed_in_person_and_their_pages(console):
    r = console.server.client(console.admin_token).post(
        "/v1/members", {"email": "grace@example.com", "name": "Grace Hopper", "audience": "billing",
                        "scope": ["tokens.list", "tokens.get", "tokens.create", "invoices.get"]})
    assert r.status == 201, r
    grace = r.json
    member_session_cookie(console, grace)
    d = console.driver
    d.get(console.url + "#/tokens")
    d.refresh()  # the same document: load it again, so it asks GET /v1/session with the cookie
    heading(d, "Tokens")
    who = d.find_element(By.ID, "who")
    assert who.text == "Signed in as Grace Hopper (grace@example.com)"
    assert who.get_attribute("title") == "member:grace@example.com"
    # Her rights decide the pages: no members.list, no audit.list.
    assert not d.find_element(By.ID, "nav-members").is_displayed()
    assert not d.find_element(By.ID, "nav-audit").is_displayed()
    # A token she creates names her, by name.
    fill_create_form(d, "Grace's token", audience="billing", pair="invoices.get")
    submit_and_close(d)
    heading(d, "Grace's token")
    assert "Grace Hopper" in d.find_element(By.ID, "created-by").text
    d.get(console.url + "#/tokens")
    heading(d, "Tokens")
    d.find_element(By.ID, "filter-mine").click()
    wait(d, lambda d: names(d) == ["Grace's token"])
    # Suspended, her session ends at the next request: the page returns to sign-in.
    assert console.server.client(console.admin_token).post(f"/v1/members/{grace['id']}/suspend").status == 200
    d.find_element(By.ID, "filter-mine").click()  # the page's next request
    visible(d, "input[type=password][name=token]")
    error = visible(d, "form.signin .error")
    assert error.text == "Your membership is suspended. Ask an administrator to activate it."
    assert not d.find_element(By.ID, "bar").is_displayed()
