"""GET /v1/audit shows a caller only the tokens it reaches, in events and in filters (#20 item 8)."""

import uuid


def test_an_event_about_several_audiences_shows_only_the_reachable_guids(env):
    """A billing token's audit log listed a devices token's GUID when one event touched both."""
    billing_token, _ = env.create(name="reach billing admin", audience="reach-billing", scope="all")
    _, invoices = env.create(name="reach invoices", audience="reach-billing")
    _, devices = env.create(name="reach devices", audience="reach-devices")
    r = env.org.post("/v1/tokens/bulk", {"action": "revoke", "guids": [invoices["guid"], devices["guid"]]})
    assert r.status == 200 and r.json["count"] == 2, r

    billing = env.org.with_token(billing_token)
    events = billing.get("/v1/audit?limit=1000").json["events"]
    assert devices["guid"] not in str(events), "the devices token is never named"
    revoke = [e for e in events if e["action"] == "revoke" and invoices["guid"] in e["guids"]]
    assert len(revoke) == 1 and revoke[0]["guids"] == [invoices["guid"]], events

    # A filter on a GUID it does not reach (or that never existed) yields nothing.
    for guid in [devices["guid"], str(uuid.uuid4())]:
        r = billing.get(f"/v1/audit?guid={guid}")
        assert r.status == 200 and r.json == {"events": [], "next_cursor": None}, r
    own = billing.get(f"/v1/audit?guid={invoices['guid']}").json["events"]
    assert [e["action"] for e in own] == ["revoke", "issue"] and all(e["guids"] == [invoices["guid"]] for e in own)

    # The organization still sees the whole event.
    whole = env.org.get(f"/v1/audit?guid={devices['guid']}&action=revoke").json["events"]
    assert sorted(whole[0]["guids"]) == sorted([invoices["guid"], devices["guid"]])
