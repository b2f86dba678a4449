"""Leaked tokens through the API: revoke-by-token and the GitLab-compatible leak-report intake."""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from conftest import Env, Server, cli_issue

TYPE = "gitleaks_rule_id_sigil_api_token"


def tamper(token):
    """The token with one character near the middle changed: same layout, wrong tag."""
    i = len(token) // 2
    return token[:i] + ("B" if token[i] != "B" else "C") + token[i + 1:]


@pytest.fixture(scope="module")
def intake():
    root = Path(tempfile.mkdtemp(prefix="sigil-leak-test-"))
    secret = root / "intake.token"
    secret.write_text("intake-secret-0123456789\n")
    os.chmod(secret, 0o600)
    e = Env(root, "--leak-report-token-file", str(secret), "--failed-auth-burst", "100000")
    e.secret = "intake-secret-0123456789"
    yield e
    e.close()
    shutil.rmtree(root, ignore_errors=True)


def status(env, guid):
    return env.org.get(f"/v1/tokens/{guid}").json["status"]


def test_revoke_by_token_revokes_after_the_tag_verifies(env):
    token, row = env.create("leaked")
    r = env.org.post("/v1/tokens/revoke-by-token", {"token": token})
    assert r.status == 200, r
    assert r.json["guid"] == row["guid"] and r.json["status"] == "revoked"
    assert token not in r.body.decode()
    # Idempotent: revoking again is still 200 and revoked.
    assert env.org.post("/v1/tokens/revoke-by-token", {"token": token}).json["status"] == "revoked"


@pytest.mark.parametrize("kind", ["forged", "malformed", "other issuer"])
def test_revoke_by_token_refuses_tokens_that_do_not_verify(env, kind, tmp_path):
    token, row = env.create(f"target {kind}")
    if kind == "forged":
        bad = tamper(token)
    elif kind == "malformed":
        bad = "sgl_" + "A" * 10
    else:
        bad, _ = cli_issue(tmp_path / "other-home", "elsewhere", "billing", "--all")
    r = env.org.post("/v1/tokens/revoke-by-token", {"token": bad})
    assert r.status == 422, r
    assert r.json["error"] == "token_not_verified"
    assert r.json["reason"] in {"bad_signature", "malformed", "unknown_key"}
    if kind == "other issuer":
        assert r.json["reason"] == "unknown_key"
    assert bad not in r.body.decode()
    assert status(env, row["guid"]) == "active"


def test_revoke_by_token_needs_tokens_revoke_over_the_audience(env):
    token, row = env.create("someone else's")
    reader, _ = env.create("reader", audience="sigil", scope="read-only")
    r = env.server.client(reader).post("/v1/tokens/revoke-by-token", {"token": token})
    assert r.status == 403, r
    assert status(env, row["guid"]) == "active"
    assert env.org.post("/v1/tokens/revoke-by-token", {}).status == 400
    assert env.org.post("/v1/tokens/revoke-by-token", {"token": 5}).status == 400


def test_intake_needs_its_own_token(intake):
    c = intake.anonymous
    for headers in [{}, {"Authorization": "wrong"}, {"Authorization": "Bearer " + intake.org_token}]:
        r = c.get("/v1/leak-reports/revocable_token_types", headers=headers, token=None)
        assert r.status == 401, r
    ok = c.get("/v1/leak-reports/revocable_token_types", headers={"Authorization": intake.secret}, token=None)
    assert ok.status == 200 and ok.json == {"types": [TYPE]}
    bearer = c.get("/v1/leak-reports/revocable_token_types",
                   headers={"Authorization": "Bearer " + intake.secret}, token=None)
    assert bearer.status == 200


def test_intake_revokes_what_verifies_and_answers_204_either_way(intake, tmp_path):
    good, row = intake.create("pushed to a repo")
    kept, kept_row = intake.create("forged copy")
    foreign, _ = cli_issue(tmp_path / "other", "foreign", "billing", "--all")
    reports = [
        {"type": TYPE, "token": good, "location": "https://git.example/acme/app/blob/abc/.env"},
        {"type": TYPE, "token": tamper(kept), "location": "https://git.example/x"},
        {"type": TYPE, "token": foreign, "location": "https://git.example/y"},
        {"type": "gitleaks_rule_id_gitlab_personal_access_token", "token": "glpat-xxxxxxxxxxxxxxxxxxxx",
         "location": "https://git.example/z"},
        {"type": TYPE, "token": "sgl_nonsense", "location": "\u001b[31m" + "x" * 5000},
    ]
    r = intake.anonymous.post("/v1/leak-reports/revoke_tokens", reports,
                              headers={"Authorization": intake.secret}, token=None)
    assert r.status == 204, r
    assert r.body == b""
    assert status(intake, row["guid"]) == "revoked"
    assert status(intake, kept_row["guid"]) == "active"
    events = intake.org.get("/v1/audit?actor=leak-report").json["events"]
    assert [e["guids"] for e in events] == [[row["guid"]]]
    assert events[0]["action"] == "revoke"
    assert events[0]["details"]["location"] == "https://git.example/acme/app/blob/abc/.env"
    # Reported again: idempotent, still 204, no second event.
    again = intake.anonymous.post("/v1/leak-reports/revoke_tokens", reports[:1],
                                  headers={"Authorization": intake.secret}, token=None)
    assert again.status == 204
    assert len(intake.org.get("/v1/audit?actor=leak-report").json["events"]) == 1
    intake.server.assert_no_token_in_log()


def test_intake_refuses_bad_bodies(intake):
    auth = {"Authorization": intake.secret}
    post = lambda body: intake.anonymous.post("/v1/leak-reports/revoke_tokens", body, headers=auth, token=None)
    assert post({"type": TYPE}).status == 400
    assert post([{"type": TYPE}]).status == 400
    assert post([{"type": TYPE, "token": "sgl_x", "location": "l"}] * 1001).status in (400, 413)
    assert intake.anonymous.get("/v1/leak-reports/revoke_tokens", headers=auth, token=None).status == 405


def test_intake_is_rate_limited(tmp_root):
    secret = tmp_root / "intake.token"
    secret.write_text("s3cret-intake\n")
    os.chmod(secret, 0o600)
    e = Env(tmp_root, "--leak-report-token-file", str(secret))
    try:
        codes = [e.anonymous.get("/v1/leak-reports/revocable_token_types", headers={"Authorization": "nope"},
                                 token=None).status for _ in range(8)]
        assert codes[0] == 401 and codes[-1] == 429, codes
        r = e.anonymous.get("/v1/leak-reports/revocable_token_types", headers={"Authorization": "nope"}, token=None)
        assert r.status == 429 and int(r.header("Retry-After")) >= 1
        # The right intake token is never refused (#20 item 5).
        r = e.anonymous.get("/v1/leak-reports/revocable_token_types", headers={"Authorization": "s3cret-intake"},
                            token=None)
        assert r.status == 200
    finally:
        e.close()


def test_intake_is_off_without_its_token_file_and_refuses_an_unsafe_one(env, tmp_root):
    assert env.anonymous.get("/v1/leak-reports/revocable_token_types", headers={"Authorization": "x"},
                             token=None).status == 404
    secret = tmp_root / "open.token"
    secret.write_text("s3cret\n")
    os.chmod(secret, 0o644)
    home = tmp_root / "home"
    cli_issue(home, "org", "sigil", "--all")
    with pytest.raises(AssertionError, match="exited 77"):
        Server(home, "--leak-report-token-file", str(secret))


def test_cli_revoke_token_through_the_server(env, tmp_path):
    """`sigil --server URL revoke --token -`: the server verifies the tag, exit codes as locally."""
    import subprocess
    from conftest import SIGIL_BIN
    token_file = tmp_path / "org.token"
    token_file.write_text(env.org_token + "\n")
    os.chmod(token_file, 0o600)
    token, row = env.create("leaked, revoked remotely")

    def remote(stdin, *args):
        return subprocess.run(
            [SIGIL_BIN, "--server", f"http://127.0.0.1:{env.server.port}", "--token-file", str(token_file),
             *args, "revoke", "--token", "-"], input=stdin, capture_output=True, text=True, timeout=60)

    forged = remote(tamper(token) + "\n")
    assert forged.returncode in (10, 13), forged
    assert status(env, row["guid"]) == "active"
    done = remote(token + "\n", "--json")
    assert done.returncode == 0, done
    assert row["guid"] in done.stdout
    assert status(env, row["guid"]) == "revoked"
    for run in (forged, done):
        assert token not in run.stdout + run.stderr and env.org_token not in run.stdout + run.stderr
