"""`guid` on POST /v1/tokens: the client picks the new token's GUID before it exists.

The rule is SigilIssuer's ChosenGUID (Tests/SigilIssuerTests/ChosenGUIDTests.swift states it as
a table on both stores): a version-4 UUID in canonical form (else 422 invalid_input), never
used in this ledger, deleted and purged tokens included (else 409 conflict).
"""

import threading
import time
import uuid

import pytest

from conftest import cli_issue, run_cli


def v4():
    return str(uuid.uuid4())


def assert_error(r, status, error, code):
    assert r.status == status, r
    body = r.json
    assert body["error"] == error and body["code"] == code, body
    return body


def test_the_token_gets_the_chosen_guid(env):
    guid = v4()
    r = env.org.post("/v1/tokens", {"name": "chosen", "audience": "billing", "scope": "all", "guid": guid})
    assert r.status == 201, r
    assert r.json["guid"] == guid
    assert r.header("Location") == f"/v1/tokens/{guid}"
    token = r.json["token"]
    # The token itself carries that GUID: it authenticates as it.
    me = env.server.client(token).get("/v1/session")
    assert me.status == 200 and me.json["guid"] == guid
    shown = env.org.get(f"/v1/tokens/{guid}")
    assert shown.status == 200 and shown.json["name"] == "chosen"
    # The issue event names it.
    events = env.org.get(f"/v1/audit?guid={guid}").json["events"]
    assert [e["action"] for e in events] == ["issue"]


def test_upper_case_hex_is_the_same_guid(env):
    guid = v4()
    r = env.org.post("/v1/tokens", {"name": "upper", "audience": "billing", "scope": "all", "guid": guid.upper()})
    assert r.status == 201, r
    assert r.json["guid"] == guid
    again = env.org.post("/v1/tokens", {"name": "lower", "audience": "billing", "scope": "all", "guid": guid})
    assert_error(again, 409, "conflict", "conflict")


BAD = [
    "",
    "0f8c9e4a2b7d4c1e9a3f5d6e7f809a1b",  # no hyphens: not the canonical form
    "0f8c9e4a-2b7d-4c1e-9a3f-5d6e7f809a1",  # a digit short
    "0f8c9e4a-2b7d-4c1e-9a3f-5d6e7f809a1bb",
    "0f8c9e4a-2b7d4-c1e-9a3f-5d6e7f809a1b",  # a hyphen out of place
    "0f8c9e4a-2b7d-4c1e-9a3f-5d6e7f809a1g",  # not hex
    "{0f8c9e4a-2b7d-4c1e-9a3f-5d6e7f809a1b}",
    "urn:uuid:0f8c9e4a-2b7d-4c1e-9a3f-5d6e7f809a1b",
    "0f8c9e4a-2b7d-1c1e-9a3f-5d6e7f809a1b",  # version 1
    "0f8c9e4a-2b7d-7c1e-9a3f-5d6e7f809a1b",  # version 7
    "00000000-0000-0000-0000-000000000000",  # nil
    "ffffffff-ffff-ffff-ffff-ffffffffffff",  # max
    "0f8c9e4a-2b7d-4c1e-7a3f-5d6e7f809a1b",  # v4 nibble, NCS variant
    "0f8c9e4a-2b7d-4c1e-ca3f-5d6e7f809a1b",  # v4 nibble, Microsoft variant
    "sgl_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",  # a token in the wrong box
]


@pytest.mark.parametrize("text", BAD)
def test_a_guid_that_is_not_a_canonical_v4_uuid_is_422(env, text):
    r = env.org.post("/v1/tokens", {"name": "bad guid", "audience": "billing", "scope": "all", "guid": text})
    body = assert_error(r, 422, "invalid_input", "invalid_input")
    assert body["message"].startswith("guid "), body
    if len(text) > 8:
        assert text not in body["message"], "the message repeats what was sent"
    assert b"sgl_" not in r.body


@pytest.mark.parametrize("value", [42, None, ["0f8c9e4a-2b7d-4c1e-9a3f-5d6e7f809a1b"], {"guid": "x"}])
def test_a_guid_that_is_not_a_string_is_400(env, value):
    r = env.org.post("/v1/tokens", {"name": "typed", "audience": "billing", "scope": "all", "guid": value})
    assert_error(r, 400, "bad_request", "invalid_input")


@pytest.mark.parametrize("use", ["live", "deactivated", "revoked", "deleted"])
def test_a_used_guid_is_409_whatever_became_of_its_token(env, use):
    guid = v4()
    _, row = env.create(name=f"first {use}", guid=guid)
    assert row["guid"] == guid
    if use == "deactivated":
        assert env.org.post(f"/v1/tokens/{guid}/deactivate").status == 200
    elif use == "revoked":
        assert env.org.post(f"/v1/tokens/{guid}/revoke").status == 200
    elif use == "deleted":
        assert env.org.delete(f"/v1/tokens/{guid}").status == 200
        assert env.org.get(f"/v1/tokens/{guid}").status == 404
    before = len(env.org.get("/v1/audit?action=issue&limit=1000").json["events"])
    r = env.org.post("/v1/tokens", {"name": "second", "audience": "billing", "scope": "all", "guid": guid})
    body = assert_error(r, 409, "conflict", "conflict")
    assert guid in body["message"] and "never reused" in body["message"]
    assert len(env.org.get("/v1/audit?action=issue&limit=1000").json["events"]) == before, "no event for a refusal"
    if use != "deleted":
        assert env.org.get(f"/v1/tokens/{guid}").json["name"] == f"first {use}", "the first token is untouched"


def test_a_purged_tombstone_guid_is_still_409(fresh_env):
    env = fresh_env
    guid = v4()
    env.create(name="short lived", guid=guid, expires_in=60)
    assert env.org.delete(f"/v1/tokens/{guid}").status == 200
    # Two days on, compaction drops the tombstone (valid_to + 1 day has passed).
    later = str(int(time.time()) + 2 * 86400)
    out = run_cli(env.home, "--json", "ledger", "compact", env={"SIGIL_NOW": later}).stdout
    assert '"records_after"' in out
    assert run_cli(env.home, "--json", "show", guid, check=False).returncode != 0
    r = env.org.post("/v1/tokens", {"name": "reborn", "audience": "billing", "scope": "all", "guid": guid})
    assert_error(r, 409, "conflict", "conflict")


def test_the_org_tokens_own_guid_and_a_cli_issued_guid_are_used(env):
    r = env.org.post("/v1/tokens", {"name": "me again", "audience": "billing", "scope": "all", "guid": env.org_guid})
    assert_error(r, 409, "conflict", "conflict")
    _, cli_guid = cli_issue(env.home, "cli made", "billing", "--all")
    r = env.org.post("/v1/tokens", {"name": "cli again", "audience": "billing", "scope": "all", "guid": cli_guid})
    assert_error(r, 409, "conflict", "conflict")


def test_rights_are_checked_before_the_guid(env):
    reader, _ = cli_issue(env.home, "reader", "sigil", "--read-only")
    r = env.org.with_token(reader).post(
        "/v1/tokens", {"name": "nope", "audience": "billing", "scope": "all", "guid": env.org_guid})
    assert_error(r, 403, "insufficient_scope", "forbidden")
    # A narrower caller asking for more than it holds: 403, even with a fresh GUID.
    narrow, _ = cli_issue(env.home, "narrow", "billing", "--scope", "tokens.create,invoices.get")
    r = env.org.with_token(narrow).post(
        "/v1/tokens", {"name": "wide", "audience": "billing", "scope": "all", "guid": v4()})
    assert_error(r, 403, "insufficient_scope", "forbidden")


def test_two_creates_racing_for_one_guid_make_one_token(env):
    guid = v4()
    results = []

    def create(i):
        r = env.org.post("/v1/tokens", {"name": f"race {i}", "audience": "billing", "scope": "all", "guid": guid})
        results.append(r.status)

    threads = [threading.Thread(target=create, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [201] + [409] * 5, results
    events = env.org.get(f"/v1/audit?guid={guid}").json["events"]
    assert [e["action"] for e in events] == ["issue"]
