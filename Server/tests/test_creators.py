"""Creators and actors by name, and the "created by me" filter (GET /v1/tokens?created_by_me=true).

A token's `created_by` is `token:<GUID>` when a token made it through the API; rows carry
`created_by_name` (that token's name) and audit events `actor_name` (Issuer.actorNames). An
OS user or CLI --actor has no name in the ledger: the key is left out.
"""

import pytest

from conftest import cli_issue


def test_created_by_me_lists_the_callers_own_tokens_only(env):
    # A billing manager (made by the CLI) creates two tokens; the org token creates one.
    manager_token, manager_guid = cli_issue(env.home, "billing manager", "billing", "--all")
    manager = env.org.with_token(manager_token)
    mine = [env.create(name=f"mine {i}", audience="billing", client=manager)[1]["guid"] for i in range(2)]
    _, theirs = env.create(name="org made", audience="billing")
    _, cli_made = cli_issue(env.home, "cli made", "billing", "--all")

    r = manager.get("/v1/tokens?created_by_me=true&limit=1000")
    assert r.status == 200, r
    assert [t["guid"] for t in r.json["tokens"]] == mine
    assert all(t["created_by"] == f"token:{manager_guid}" for t in r.json["tokens"])

    everything = [t["guid"] for t in manager.get("/v1/tokens?created_by_me=false&limit=1000").json["tokens"]]
    assert set(mine) | {theirs["guid"], cli_made} <= set(everything)

    org_mine = [t["guid"] for t in env.org.get("/v1/tokens?created_by_me=true&limit=1000").json["tokens"]]
    assert theirs["guid"] in org_mine
    assert not set(mine) & set(org_mine) and cli_made not in org_mine


def test_created_by_me_combines_with_filters_and_pages(env):
    maker_token, _ = cli_issue(env.home, "pager", "sigil", "--all")
    maker = env.org.with_token(maker_token)
    guids = [env.create(name=f"paged mine {i}", audience="pagedmine", client=maker)[1]["guid"] for i in range(5)]
    env.create(name="paged other", audience="pagedmine")
    env.org.post(f"/v1/tokens/{guids[0]}/revoke")

    page1 = maker.get("/v1/tokens?created_by_me=true&audience=pagedmine&limit=2").json
    page2 = maker.get(f"/v1/tokens?created_by_me=true&audience=pagedmine&limit=2&cursor={page1['next_cursor']}").json
    page3 = maker.get(f"/v1/tokens?created_by_me=true&audience=pagedmine&limit=2&cursor={page2['next_cursor']}").json
    assert [t["guid"] for t in page1["tokens"] + page2["tokens"] + page3["tokens"]] == guids
    assert page3["next_cursor"] is None
    active = maker.get("/v1/tokens?created_by_me=true&audience=pagedmine&status=active").json["tokens"]
    assert [t["guid"] for t in active] == guids[1:]
    named = maker.get("/v1/tokens?created_by_me=true&name=mine+3").json["tokens"]
    assert [t["guid"] for t in named] == [guids[3]]


@pytest.mark.parametrize("value", ["yes", "1", "TRUE", ""])
def test_created_by_me_takes_true_or_false_only(env, value):
    r = env.org.get(f"/v1/tokens?created_by_me={value}")
    assert r.status == 400, r
    assert r.json["error"] == "bad_request" and "created_by_me" in r.json["message"]


def test_created_by_me_needs_tokens_list(env):
    auditor, _ = cli_issue(env.home, "auditor", "sigil", "--scope", "audit.list")
    r = env.org.with_token(auditor).get("/v1/tokens?created_by_me=true")
    assert r.status == 403 and r.json["scope"] == "tokens.list", r


def test_rows_name_their_creator(env):
    maker_token, maker_guid = cli_issue(env.home, "Deploy bot", "sigil", "--all")
    maker = env.org.with_token(maker_token)
    _, row = env.create(name="made by the bot", client=maker)
    assert row["created_by"] == f"token:{maker_guid}" and row["created_by_name"] == "Deploy bot"
    assert env.org.get(f"/v1/tokens/{row['guid']}").json["created_by_name"] == "Deploy bot"
    listed = env.org.get(f"/v1/tokens?guid={row['guid']}").json["tokens"]
    assert listed[0]["created_by_name"] == "Deploy bot"
    # A rename of the creator shows at once: the name is read, not copied.
    assert env.org.patch(f"/v1/tokens/{maker_guid}", {"name": "Deploy bot v2"}).status == 200
    assert env.org.get(f"/v1/tokens/{row['guid']}").json["created_by_name"] == "Deploy bot v2"
    # A deleted creator still has its name while its tombstone lasts.
    assert env.org.delete(f"/v1/tokens/{maker_guid}").status == 200
    assert env.org.get(f"/v1/tokens/{row['guid']}").json["created_by_name"] == "Deploy bot v2"
    # A CLI creator (an OS user or --actor) has no name in the ledger: the key is left out.
    _, cli_guid = cli_issue(env.home, "cli row", "billing", "--all")
    cli_row = env.org.get(f"/v1/tokens/{cli_guid}").json
    assert "created_by_name" not in cli_row and not cli_row["created_by"].startswith("token:")


def test_events_name_their_actor(env):
    maker_token, maker_guid = cli_issue(env.home, "Event actor", "sigil", "--all")
    maker = env.org.with_token(maker_token)
    _, row = env.create(name="evented", client=maker)
    events = env.org.get(f"/v1/audit?guid={row['guid']}").json["events"]
    assert events[0]["actor"] == f"token:{maker_guid}" and events[0]["actor_name"] == "Event actor"
    # The CLI's own event (an OS user) has none.
    cli_events = env.org.get(f"/v1/audit?guid={maker_guid}").json["events"]
    assert cli_events[-1]["action"] == "issue" and "actor_name" not in cli_events[-1]


def test_a_narrow_caller_sees_its_creator_only_as_an_actor(env):
    # The org token creates a billing manager; the manager sees its own row's creator as
    # `token:<GUID>` but not its name (a token of an audience it does not reach), and still
    # may not read the org token's row.
    manager_token, manager_row = env.create(name="billing boss", audience="billing", scope="all")
    manager = env.org.with_token(manager_token)
    own = manager.get(f"/v1/tokens/{manager_row['guid']}")
    assert own.status == 200 and own.json["created_by"] == f"token:{env.org_guid}"
    assert "created_by_name" not in own.json
    assert manager.get(f"/v1/tokens/{env.org_guid}").status == 404


def test_a_caller_limited_to_an_audience_gets_no_name_for_an_org_token_creator(env):
    # An organization token creates a billing token: a billing caller sees the row, and its
    # `created_by`, but not the name of a token of an audience it does not reach.
    maker_token, maker_guid = cli_issue(env.home, "Org secret project", "sigil", "--all")
    _, row = env.create(name="billing job", audience="billing", client=env.org.with_token(maker_token))
    billing_token, _ = cli_issue(env.home, "billing reader", "billing", "--all")
    billing = env.org.with_token(billing_token)
    shown = billing.get(f"/v1/tokens/{row['guid']}")
    assert shown.status == 200, shown
    assert shown.json["created_by"] == f"token:{maker_guid}" and "created_by_name" not in shown.json
    listed = billing.get(f"/v1/tokens?guid={row['guid']}").json["tokens"]
    assert listed and "created_by_name" not in listed[0]
    events = billing.get(f"/v1/audit?guid={row['guid']}").json["events"]
    assert events and all("actor_name" not in e for e in events)
    # The organization reaches both: it reads the name.
    assert env.org.get(f"/v1/tokens/{row['guid']}").json["created_by_name"] == "Org secret project"
