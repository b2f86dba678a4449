"""Single sign-on against a real OpenID Connect provider this project did not write.

The provider is django-oidc-provider (PyPI) in the throwaway Django project under
oidc_provider/, started here on 127.0.0.1 with its own SQLite database, an RS256 key made by its
`creatersakey` command, test users and a client whose redirect URIs are this test's servers.
Every refusal is produced by driving the real flow: tampering with the redirect, the callback,
the cookies, the provider's own data (key rotation) or its ID-token processing hook (the
provider then issues and signs the odd token itself). The provider's token endpoint and JWKS
are never mocked. Needs django, django-oidc-provider and requests (.ci/run installs them).
"""

import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urljoin, urlparse, urlunparse

import pytest

from conftest import Env, Server, run_cli

try:
    import django  # noqa: F401
    import oidc_provider  # noqa: F401
    import requests
except ImportError:  # pragma: no cover - reported by the skip below
    requests = None

pytestmark = pytest.mark.skipif(
    requests is None,
    reason="single sign-on tests need django, django-oidc-provider and requests (pip); .ci/run installs them")

HARNESS = Path(__file__).resolve().parent / "oidc_provider"
CLIENT_ID = "sigil-test"
SECRET = "test-only-oidc-client-secret"
PASSWORD = "test-only-password"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Provider:
    """django-oidc-provider on 127.0.0.1: migrated, keyed, seeded, serving."""

    def __init__(self, root, redirect_ports, template=None, host="127.0.0.1"):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://{host}:{self.port}"
        self.issuer = f"{self.url}/openid"
        self.mode_file = self.root / "mode"
        self.env = dict(
            os.environ, OIDC_TEST_DB=str(self.root / "provider.db"), OIDC_TEST_SITE_URL=self.url,
            OIDC_TEST_MODE_FILE=str(self.mode_file), PYTHONDONTWRITEBYTECODE="1")
        if template:
            # Another instance with a copy of the template's data (users, client, key).
            shutil.copy(template.root / "provider.db", self.root / "provider.db")
        else:
            self.manage("migrate", "-v0")
            self.manage("creatersakey")
            redirects = [f"http://127.0.0.1:{p}/v1/oidc/callback" for p in redirect_ports]
            self.python("-m", "provider.seed", CLIENT_ID, SECRET, *redirects)
        self.log = open(self.root / "provider.log", "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{self.port}", "--noreload"], cwd=HARNESS,
            env=self.env, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.issuer}/.well-known/openid-configuration", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            assert self.proc.poll() is None, (self.root / "provider.log").read_text()
            time.sleep(0.2)
        raise AssertionError("the provider did not start")

    def python(self, *args):
        subprocess.run([sys.executable, *args], cwd=HARNESS, env=self.env, check=True, capture_output=True, timeout=120)

    def manage(self, *args):
        self.python("manage.py", *args)

    def mode(self, mode):
        """Makes the provider's ID-token hook issue odd tokens (provider/hooks.py); "" for normal."""
        self.mode_file.write_text(mode)

    def rotate_key(self):
        """Replaces the provider's signing key by a new one (its own command), as a provider's
        key rotation does: the old key leaves the JWKS, the new one signs."""
        self.python("-c", "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'provider.settings');"
                    "django.setup(); from oidc_provider.models import RSAKey; RSAKey.objects.all().delete()")
        self.manage("creatersakey")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.log.close()


@pytest.fixture(scope="module")
def sso():
    root = Path(tempfile.mkdtemp(prefix="sigil-oidc-test-"))
    ports = {name: free_port() for name in ("main", "refresh", "full", "midflow", "browser", "limited", "badsecret",
                                             "locked")}
    provider = Provider(root / "provider", ports.values())
    secret = root / "client-secret"
    secret.write_text(SECRET + "\n")
    secret.chmod(0o600)

    def options(port, *extra):
        return ("--port", str(port), "--oidc-issuer", provider.issuer, "--oidc-client-id", CLIENT_ID,
                "--oidc-client-secret-file", str(secret), "--oidc-provider-name", "Test IdP",
                "--oidc-redirect-url", f"http://127.0.0.1:{port}/v1/oidc/callback", "--failed-auth-burst", "1000",
                *extra)

    (root / "main").mkdir()
    e = Env(root / "main", *options(ports["main"], "--oidc-allowed-domain", "example.org",
                                     "--oidc-jwks-refresh-seconds", "3600"))
    e.provider = provider
    e.root = root
    e.options = options
    e.ports = ports
    e.secret = secret
    e.extra = []
    add_member(e.home, "ada@example.org", "Ada Lovelace")
    add_member(e.home, "GRACE@Example.ORG", "Grace Hopper", "--read-only")
    add_member(e.home, "suspended@example.org", "Sus Pended")
    run_cli(e.home, "members", "suspend", "suspended@example.org")
    e.server_for = lambda port, issuer: Server(
        e.home, *options(port)[:2], "--oidc-issuer", issuer, *options(port)[4:])
    try:
        yield e
    finally:
        for server in e.extra:
            server.stop()
        e.close()
        provider.stop()
        shutil.rmtree(root, ignore_errors=True)


class Flow:
    """One browser's sign-in, driven with requests: the redirect to the provider, its login
    form, and the redirect back, stopped before the callback so a test can tamper with it."""

    def __init__(self, port, username, tamper_authorize=None):
        self.base = f"http://127.0.0.1:{port}"
        self.http = requests.Session()
        r = self.http.get(f"{self.base}/v1/oidc/login", allow_redirects=False, timeout=30)
        assert r.status_code == 302, r.text
        self.flow_cookie = self.http.cookies.get("sigil_oidc_flow")
        assert self.flow_cookie
        authorize = r.headers["Location"]
        if tamper_authorize:
            authorize = tamper_authorize(authorize)
        r = self.http.get(authorize, allow_redirects=False, timeout=30)
        assert r.status_code == 302, r.text
        login = urljoin(authorize, r.headers["Location"])
        form = self.http.get(login, timeout=30)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
        nxt = re.search(r'name="next" value="([^"]*)"', form.text).group(1).replace("&amp;", "&")
        r = self.http.post(login, data={"csrfmiddlewaretoken": token, "username": username, "password": PASSWORD,
                                        "next": nxt}, allow_redirects=False, timeout=30)
        assert r.status_code == 302, f"the provider refused the test user's password: {r.status_code}"
        r = self.http.get(urljoin(login, r.headers["Location"]), allow_redirects=False, timeout=30)
        assert r.status_code == 302, r.text
        self.callback = r.headers["Location"]
        assert self.callback.startswith(f"{self.base}/v1/oidc/callback?"), self.callback
        self.code = parse_qs(urlparse(self.callback).query)["code"][0]

    def set_flow_cookie(self, value):
        """Replaces the flow cookie in this browser's jar (or puts it back after the callback dropped it)."""
        for cookie in list(self.http.cookies):
            if cookie.name == "sigil_oidc_flow":
                self.http.cookies.clear(cookie.domain, cookie.path, cookie.name)
        self.http.cookies.set("sigil_oidc_flow", value, domain="127.0.0.1", path="/v1/oidc/callback")

    def finish(self, callback=None):
        return self.http.get(callback or self.callback, allow_redirects=False, timeout=30)


def with_query(url, **changes):
    parts = urlparse(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update(changes)
    return urlunparse(parts._replace(query=urlencode(query)))


def assert_refused(response, status, reason):
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert response.headers["Content-Type"].startswith("text/html")
    assert f'<code id="refusal-reason">{reason}</code>' in response.text, response.text[:500]
    assert "sigil_session=" not in response.headers.get("Set-Cookie", "")
    # The flow is over whatever happened: its cookie is dropped.
    assert "sigil_oidc_flow=;" in response.headers.get("Set-Cookie", "")


def test_sso_is_described_for_the_console(sso):
    r = sso.anonymous.get("/v1/oidc")
    assert r.status == 200 and r.json == {"configured": True, "provider": "Test IdP", "login": "/v1/oidc/login"}


def test_without_sso_the_routes_say_so(tmp_path):
    e = Env(tmp_path)
    try:
        assert e.anonymous.get("/v1/oidc").json == {"configured": False}
        r = e.anonymous.get("/v1/oidc/login")
        assert r.status == 404 and b"not_configured" in r.body
    finally:
        e.close()


def test_login_redirects_with_pkce_state_and_nonce_and_a_lax_flow_cookie(sso):
    r = sso.anonymous.get("/v1/oidc/login")
    assert r.status == 302
    location = urlparse(r.header("Location"))
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{sso.provider.issuer}/authorize"
    query = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert query["response_type"] == "code" and query["client_id"] == CLIENT_ID
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert len(query["state"]) == 43 and len(query["nonce"]) == 43 and query["state"] != query["nonce"]
    assert set(query["scope"].split()) >= {"openid", "email"}
    cookie = r.header("Set-Cookie")
    assert cookie.startswith("sigil_oidc_flow=")
    for part in ("Path=/v1/oidc/callback", "HttpOnly", "SameSite=Lax", "Max-Age=600"):
        assert part in cookie
    # Nothing readable in the cookie: state, nonce and verifier are sealed.
    value = cookie.split(";")[0].split("=", 1)[1]
    assert query["state"] not in value and query["nonce"] not in value


def test_wrong_state_is_refused(sso):
    flow = Flow(sso.ports["main"], "nobody")
    assert_refused(flow.finish(with_query(flow.callback, state="A" * 43)), 400, "state_mismatch")


def test_a_callback_without_its_flow_cookie_is_refused(sso):
    flow = Flow(sso.ports["main"], "nobody")
    stranger = requests.get(flow.callback, allow_redirects=False, timeout=30)
    assert_refused(stranger, 400, "state_mismatch")


def test_a_forged_flow_cookie_is_refused(sso):
    flow = Flow(sso.ports["main"], "nobody")
    flow.set_flow_cookie(flow.flow_cookie[:-4] + ("AAAA" if not flow.flow_cookie.endswith("AAAA") else "BBBB"))
    assert_refused(flow.finish(), 400, "state_mismatch")


def test_a_replayed_code_is_refused_by_the_provider(sso):
    flow = Flow(sso.ports["main"], "nobody")
    first = flow.finish()
    assert first.status_code == 403  # the code worked; the person is no member
    # The same callback again, with the flow cookie put back: the provider refuses the used code.
    flow.set_flow_cookie(flow.flow_cookie)
    assert_refused(flow.finish(), 400, "code_rejected")


def test_wrong_nonce_is_refused(sso):
    flow = Flow(sso.ports["main"], "ada", tamper_authorize=lambda url: with_query(url, nonce="B" * 43))
    assert_refused(flow.finish(), 401, "nonce_mismatch")


@pytest.mark.parametrize("mode,status,reason", [
    ("expired", 401, "expired"),
    ("future", 401, "issued_in_future"),
    ("audience", 401, "wrong_audience"),
    ("issuer", 401, "wrong_issuer"),
])
def test_odd_tokens_signed_by_the_provider_are_refused(sso, mode, status, reason):
    sso.provider.mode(mode)
    try:
        flow = Flow(sso.ports["main"], "ada")
        assert_refused(flow.finish(), status, reason)
    finally:
        sso.provider.mode("")


def test_an_error_from_the_provider_is_refused(sso):
    """prompt=none for a browser not signed in at the provider: it answers login_required."""
    http = requests.Session()
    r = http.get(f"http://127.0.0.1:{sso.ports['main']}/v1/oidc/login", allow_redirects=False, timeout=30)
    r = http.get(with_query(r.headers["Location"], prompt="none"), allow_redirects=False, timeout=30)
    callback = r.headers["Location"]
    assert "error=login_required" in callback, callback
    assert_refused(http.get(callback, allow_redirects=False, timeout=30), 403, "provider_error")


def test_unverified_email_is_refused(sso):
    assert_refused(Flow(sso.ports["main"], "mallory").finish(), 403, "email_unverified")


def test_email_outside_the_allowed_domain_is_refused(sso):
    assert_refused(Flow(sso.ports["main"], "eve").finish(), 403, "domain_not_allowed")


def test_a_person_who_is_not_a_member_is_told_to_ask_an_administrator(sso):
    r = Flow(sso.ports["main"], "nobody").finish()
    assert_refused(r, 403, "not_a_member")
    assert "Ask an administrator" in r.text


def test_refused_sign_ins_meet_the_failed_authentication_limit(sso, tmp_path):
    """A flood of forged callbacks gets 429 before any provider call or audit write; starting a
    sign-in is never limited (it proves nothing and costs the provider nothing)."""
    port = free_port()
    e = Env(tmp_path, *sso.options(port, "--failed-auth-burst", "2", "--failed-auth-refill", "0.01"))
    try:
        base = f"http://127.0.0.1:{port}/v1/oidc"
        for _ in range(2):
            assert_refused(requests.get(f"{base}/callback?state=x&code=y", timeout=30), 400, "state_mismatch")
        r = requests.get(f"{base}/callback?state=x&code=y", timeout=30)
        assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
        assert '<code id="refusal-reason">too_many_requests</code>' in r.text
        assert requests.get(f"{base}/login", allow_redirects=False, timeout=30).status_code == 302
        events = e.org.get("/v1/audit?action=sign-in-refused").json["events"]
        assert len(events) == 2, events
    finally:
        e.close()


def test_bad_bearer_tokens_from_the_address_do_not_block_a_persons_sign_in(sso):
    """The failed-authentication bucket is shared with bearer tokens (one proxy address for
    everybody): spent by bad tokens, it still lets a real sign-in through, and still answers a
    forged callback 429."""
    port = sso.ports["limited"]
    (sso.root / "limited").mkdir()
    e = Env(sso.root / "limited", *sso.options(port, "--failed-auth-burst", "3", "--failed-auth-refill", "0.01"))
    try:
        add_member(e.home, "ada@example.org", "Ada Lovelace")
        bad = e.server.client("sgl_" + "A" * 60)
        statuses = [bad.get("/v1/tokens").status for _ in range(6)]
        assert statuses[-1] == 429, statuses
        r = Flow(port, "ada").finish()
        assert r.status_code == 303 and session_cookie(r), r.text[:300]
        forged = requests.get(f"http://127.0.0.1:{port}/v1/oidc/callback?state=x&code=y", timeout=30)
        assert forged.status_code == 429 and forged.headers["Retry-After"]
        assert '<code id="refusal-reason">too_many_requests</code>' in forged.text
    finally:
        e.close()


def test_a_wrong_client_secret_is_a_logged_provider_error_not_a_rejected_code(sso):
    port = sso.ports["badsecret"]
    root = sso.root / "badsecret"
    root.mkdir()
    wrong = root / "wrong-secret"
    wrong.write_text("test-only-wrong-oidc-client-secret\n")
    wrong.chmod(0o600)
    args = [str(wrong) if a == str(sso.secret) else a for a in sso.options(port)]
    e = Env(root, *args)
    try:
        r = Flow(port, "ada").finish()
        assert_refused(r, 502, "provider_error")
        text = e.server.log_text()
        assert "invalid_client" in text and "--oidc-client-secret-file" in text, text[-2000:]
        assert "test-only-wrong-oidc-client-secret" not in text and SECRET not in text
        events = e.org.get("/v1/audit?action=sign-in-refused").json["events"]
        assert [ev["details"]["reason"] for ev in events] == ["provider_error"], events
    finally:
        e.close()


def test_a_locked_ledger_at_the_callback_gives_a_503_try_again_page(sso):
    """lock_busy from the ledger is neither a JSON API error nor a refusal of the person."""
    port = sso.ports["locked"]
    (sso.root / "locked").mkdir()
    e = Env(sso.root / "locked", *sso.options(port), env={"SIGIL_LOCK_TIMEOUT": "0.3"})
    try:
        add_member(e.home, "ada@example.org", "Ada Lovelace")
        flow = Flow(port, "ada")
        db = sqlite3.connect(str(e.home / "sigil.db"), timeout=5, isolation_level=None)
        db.execute("BEGIN IMMEDIATE")
        try:
            r = flow.finish()
        finally:
            db.execute("ROLLBACK")
            db.close()
        assert r.status_code == 503 and r.headers["Retry-After"], (r.status_code, r.text[:300])
        assert r.headers["Content-Type"].startswith("text/html")
        assert '<code id="refusal-reason">try_again</code>' in r.text
        assert "sigil_session=" not in r.headers.get("Set-Cookie", "")
        assert e.org.get("/v1/audit?action=sign-in-refused").json["events"] == []
    finally:
        e.close()


def test_provider_down_gives_503_not_500(sso, tmp_path):
    dead = free_port()
    secret = tmp_path / "s"
    secret.write_text(SECRET)
    secret.chmod(0o600)
    (tmp_path / "e").mkdir()
    e = Env(tmp_path / "e", "--oidc-issuer", f"http://127.0.0.1:{dead}/openid", "--oidc-client-id", CLIENT_ID,
            "--oidc-client-secret-file", str(secret), "--oidc-redirect-url", "http://127.0.0.1:1/v1/oidc/callback")
    try:
        r = requests.get(f"http://127.0.0.1:{e.server.port}/v1/oidc/login", allow_redirects=False, timeout=30)
        assert r.status_code == 503 and r.headers["Retry-After"]
        assert '<code id="refusal-reason">provider_unavailable</code>' in r.text
    finally:
        e.close()


def test_provider_going_down_mid_flow_gives_503(sso, tmp_path):
    """The provider stops after the login: the token endpoint cannot be reached at the callback."""
    port = sso.ports["midflow"]
    provider = Provider(tmp_path / "provider", [], template=sso.provider)
    server = sso.server_for(port, provider.issuer)
    try:
        flow = Flow(port, "ada")
        provider.stop()
        assert_refused(flow.finish(), 503, "provider_unavailable")
    finally:
        server.stop()


@pytest.mark.parametrize("args,message", [
    (["--oidc-issuer", "ftp://id.example.com"], "--oidc-issuer"),
    (["--oidc-client-id", "x"], "--oidc-issuer, --oidc-client-id and --oidc-client-secret-file"),
    (["--oidc-issuer", "https://id.example.com", "--oidc-client-id", "c", "--oidc-client-secret-file", "{secret}",
      "--oidc-allowed-domain", "not a domain"], "--oidc-allowed-domain"),
    (["--oidc-issuer", "https://id.example.com", "--oidc-client-id", "c", "--oidc-client-secret-file", "{secret}",
      "--oidc-redirect-url", "https://sigil.example.com/elsewhere"], "--oidc-redirect-url"),
    (["--oidc-issuer", "https://id.example.com", "--oidc-client-id", "c", "--oidc-client-secret-file",
      "/nonexistent/secret"], "/nonexistent/secret"),
    (["--oidc-issuer", "https://id.example.com", "--oidc-client-id", "c", "--oidc-client-secret-file", "{secret}",
      "--port", "0"], "give --oidc-redirect-url"),
    (["--oidc-issuer", "https://id.example.com", "--oidc-client-id", "c", "--oidc-client-secret-file", "{secret}",
      "--oidc-jwks-refresh-seconds", "0"], "--oidc-jwks-refresh-seconds"),
])
def test_bad_options_stop_the_server_with_a_clear_error(sso, tmp_path, args, message):
    args = [a.replace("{secret}", str(sso.secret)) for a in args]
    r = subprocess.run([str(Path(os.environ.get("SIGIL_SERVER_BIN", Path(__file__).resolve().parents[1]
                                                / ".build/debug/sigil-server"))),
                        "--home", str(sso.home), "--port", str(free_port()), "--log-format", "text", *args],
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode in (64, 65, 66, 77), (r.returncode, r.stderr)
    assert message in r.stderr, r.stderr
    assert SECRET not in r.stderr


def test_no_code_or_id_token_reaches_the_log(sso):
    flow = Flow(sso.ports["main"], "nobody")
    flow.finish()
    text = sso.server.log_text()
    assert flow.code not in text
    assert "eyJ" not in text  # no JWS
    assert SECRET not in text


from test_console_browser import CHROMEDRIVER, CHROMIUM, EC, By, WebDriverWait, chromium, webdriver  # noqa: E402


@pytest.fixture(scope="module")
def browser(sso):
    """Headless Chromium, and a provider instance at http://localhost (another site than the
    server at 127.0.0.1), so the redirects between them are cross-site as in production: the
    Lax flow cookie and the Strict session cookie are exercised as a browser treats them."""
    if webdriver is None or CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("needs chromium, chromium-driver and selenium (.ci/run installs them)")
    provider = Provider(sso.root / "browser-provider", [], template=sso.provider, host="localhost")
    server = sso.server_for(sso.ports["browser"], provider.issuer)
    driver = chromium(sso.root / "chromium")
    driver.base = f"http://127.0.0.1:{server.port}/"
    try:
        yield driver
    finally:
        driver.quit()
        server.stop()
        provider.stop()


def browser_sign_in(driver, username):
    """From the console's sign-in page, through the provider's own login form, and back."""
    # Every site's cookies, the provider's too: delete_all_cookies clears only the current
    # page's, and a provider session left by an earlier test would sign in as its person.
    driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
    driver.get(driver.base)
    button = WebDriverWait(driver, 40).until(EC.element_to_be_clickable((By.ID, "sso-login")))
    assert button.text == "Sign in with Test IdP"
    button.click()
    WebDriverWait(driver, 40).until(EC.presence_of_element_located((By.ID, "id_username")))
    assert driver.current_url.startswith("http://localhost:")
    driver.find_element(By.ID, "id_username").send_keys(username)
    driver.find_element(By.ID, "id_password").send_keys(PASSWORD)
    driver.find_element(By.ID, "provider-login").click()


def test_browser_refusal_page_after_the_providers_form(sso, browser):
    browser_sign_in(browser, "nobody")
    reason = WebDriverWait(browser, 40).until(EC.presence_of_element_located((By.ID, "refusal-reason")))
    assert reason.text == "not_a_member"
    assert "Ask an administrator" in browser.find_element(By.ID, "refusal-message").text
    assert browser.current_url.startswith(browser.base + "v1/oidc/callback?")


def test_browser_member_lands_in_the_console_showing_the_person(sso, browser):
    browser_sign_in(browser, "ada")
    WebDriverWait(browser, 40).until(EC.text_to_be_present_in_element((By.ID, "who"), "Ada Lovelace"))
    assert browser.current_url == browser.base + "#/tokens"
    assert browser.find_element(By.ID, "bar").is_displayed()
    cookies = {c["name"]: c for c in browser.get_cookies()}
    session = cookies["sigil_session"]
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    assert "sigil_oidc_flow" not in cookies
    # Signing out returns to the sign-in page, which offers the provider again.
    browser.find_element(By.ID, "signout").click()
    WebDriverWait(browser, 40).until(EC.element_to_be_clickable((By.ID, "sso-login")))


# Members (the seam of #25): the success path, the member checks, sessions that end.

def add_member(home, email, name, *rights):
    run_cli(home, "members", "add", "--email", email, "--name", name, "--audience", "sigil", *(rights or ("--all",)))


def session_cookie(response):
    for value in response.raw.headers.get_all("Set-Cookie") or []:
        if value.startswith("sigil_session="):
            return value
    return None


def test_a_member_signs_in_with_the_same_session_cookie_as_token_sign_in(sso):
    flow = Flow(sso.ports["main"], "ada")
    r = flow.finish()
    assert r.status_code == 303, r.text[:300]
    assert r.headers["Location"] == "/#/tokens"
    cookie = session_cookie(r)
    assert cookie, r.headers
    for part in ("Path=/", "HttpOnly", "SameSite=Strict"):
        assert part in cookie
    assert "sigil_oidc_flow=;" in r.headers["Set-Cookie"]
    me = flow.http.get(f"{flow.base}/v1/session", timeout=30)
    assert me.status_code == 200, me.text
    csrf = me.json()["csrf_token"]
    # Changes need the CSRF header, as for a token's session.
    body = {"name": "made by ada", "audience": "billing", "scope": "read-only"}
    assert flow.http.post(f"{flow.base}/v1/tokens", json=body, timeout=30).status_code == 403
    made = flow.http.post(f"{flow.base}/v1/tokens", json=body, headers={"X-CSRF-Token": csrf}, timeout=30)
    assert made.status_code == 201, made.text
    assert made.json()["created_by"] == "member:ada@example.org"
    events = sso.org.get("/v1/audit?action=sign-in").json["events"]
    assert any(e["actor"] == "member:ada@example.org" for e in events), events


def test_another_replica_finishes_a_sign_in_one_replica_started(sso):
    """Replicas behind one URL share the options and the secret: the sealed flow cookie is
    all the state, so the replica that gets the callback finishes the flow."""
    args = list(sso.options(sso.ports["main"]))
    args[1] = str(free_port())  # its own port; the same public callback URL
    replica = Server(sso.home, *args)
    try:
        flow = Flow(sso.ports["main"], "ada")
        r = flow.finish(flow.callback.replace(f":{sso.ports['main']}/", f":{replica.port}/"))
        assert r.status_code == 303 and session_cookie(r), r.text[:300]
        assert flow.http.get(f"{flow.base}/v1/session", timeout=30).status_code == 200
    finally:
        assert replica.stop() == 0


def test_the_member_email_matches_whatever_its_case(sso):
    r = Flow(sso.ports["main"], "grace").finish()
    assert r.status_code == 303 and session_cookie(r), r.text[:300]


def test_a_suspended_member_is_refused(sso):
    r = Flow(sso.ports["main"], "suspended").finish()
    assert_refused(r, 403, "member_suspended")


@pytest.mark.parametrize("command,reason", [("suspend", "member_suspended"), ("remove", "member_removed")])
def test_a_members_session_ends_at_the_next_request_after_suspend_or_remove(sso, command, reason):
    email = "removed@example.org"
    add_member(sso.home, email, "Re Moved")
    try:
        flow = Flow(sso.ports["main"], "removed")
        assert flow.finish().status_code == 303
        assert flow.http.get(f"{flow.base}/v1/session", timeout=30).status_code == 200
        sso.cli("members", command, email)
        r = flow.http.get(f"{flow.base}/v1/session", timeout=30)
        assert r.status_code == 401, r.text
        assert r.json()["reason"] == reason
        assert flow.http.get(f"{flow.base}/v1/session", timeout=30).status_code == 401
    finally:
        sso.cli("members", "remove", email, check=False)


def test_sign_in_is_refused_with_503_when_sessions_are_full(sso):
    (sso.root / "full").mkdir()
    e = Env(sso.root / "full", *sso.options(sso.ports["full"], "--max-sessions", "1"))
    try:
        add_member(e.home, "ada@example.org", "Ada Lovelace")
        assert e.anonymous.post("/v1/session", {"token": e.org_token}).status == 201
        r = Flow(sso.ports["full"], "ada").finish()
        assert_refused(r, 503, "sessions_full")
        assert r.headers["Retry-After"]
    finally:
        e.close()


def test_refusals_are_audited_with_their_reason(sso):
    events = sso.org.get("/v1/audit?action=sign-in-refused&limit=200").json["events"]
    reasons = {e["details"]["reason"] for e in events}
    assert {"state_mismatch", "code_rejected", "nonce_mismatch", "expired", "issued_in_future", "wrong_audience",
            "wrong_issuer", "email_unverified", "domain_not_allowed", "not_a_member", "member_suspended",
            "provider_error"} <= reasons, reasons
    assert "sessions_full" not in reasons


# Last: these change the provider's keys for the tests after them.

def test_unknown_kid_is_refused_while_the_refetch_is_rate_limited(sso):
    Flow(sso.ports["main"], "nobody").finish()  # the JWKS is read (now, or earlier)
    sso.provider.rotate_key()
    assert_refused(Flow(sso.ports["main"], "nobody").finish(), 401, "unknown_key")


def test_unknown_kid_refetches_the_jwks_once_the_interval_passed(sso):
    port = sso.ports["refresh"]
    (sso.root / "refresh").mkdir()
    e = Env(sso.root / "refresh", *sso.options(port, "--oidc-jwks-refresh-seconds", "1"))
    sso.extra.append(e.server)
    assert Flow(port, "nobody").finish().status_code == 403  # verified; no member
    sso.provider.rotate_key()
    time.sleep(1.1)
    r = Flow(port, "nobody").finish()
    assert_refused(r, 403, "not_a_member")  # the new key was fetched and the token verified
