import SigilIssuer
import SigilVerifier
import Testing

/// `guid` at issue (``ChosenGUID``): a client picks the new token's GUID beforehand. The
/// server's pytest (Server/tests/test_chosen_guid.py) drives the same rule over HTTP.
@Suite("A GUID chosen before issue", .bothStores)
struct ChosenGUIDTests: IssuerSuite {
    let fixture: IssuerFixture

    init() throws { fixture = try IssuerFixture() }

    func chosen(_ id: TokenID, name: String = "chosen") -> IssueRequest {
        var r = request(name)
        r.guid = id
        return r
    }

    @Test("The token gets the chosen GUID; it verifies with it and the issue event names it")
    func issuesWithIt() throws {
        let id = try ChosenGUID.parse("0f8c9e4a-2b7d-4c1e-9a3f-5d6e7f809a1b")
        let issued = try issuer.issue(chosen(id), by: alice, now: t0)
        #expect(issued.record.id == id)
        let verifier = try Verifier(keyset: try issuer.keyset(audience: "billing"))
        #expect(try verifier.verify(issued.token, at: t0).id == id)
        #expect(try issuer.events(.issue).first?.guids == [id])
        // Upper-case hex is the same GUID (RFC 9562 reads hex case-insensitively).
        #expect(try ChosenGUID.parse("0F8C9E4A-2B7D-4C1E-9A3F-5D6E7F809A1B") == id)
    }

    @Test("A fresh random GUID from TokenMinter passes the rule")
    func minted() throws {
        for _ in 0..<64 { try ChosenGUID.check(TokenMinter.newTokenID()) }
    }

    @Test(
        "Text that is not a canonical v4 UUID is invalid_input naming guid, and never echoed",
        arguments: [
            "",
            "0f8c9e4a2b7d4c1e9a3f5d6e7f809a1b",  // 32 digits without hyphens: not the canonical form
            "0f8c9e4a-2b7d-4c1e-9a3f-5d6e7f809a1",  // one digit short
            "0f8c9e4a-2b7d-4c1e-9a3f-5d6e7f809a1bb",  // one too many
            "0f8c9e4a-2b7d4-c1e-9a3f-5d6e7f809a1b",  // a hyphen out of place
            "0f8c9e4a-2b7d-4c1e-9a3f-5d6e7f809a1g",  // not hex
            "{0f8c9e4a-2b7d-4c1e-9a3f-5d6e7f809a1b}",  // braces
            "0f8c9e4a-2b7d-1c1e-9a3f-5d6e7f809a1b",  // version 1
            "0f8c9e4a-2b7d-7c1e-9a3f-5d6e7f809a1b",  // version 7
            "00000000-0000-0000-0000-000000000000",  // the nil UUID
            "ffffffff-ffff-ffff-ffff-ffffffffffff",  // the max UUID
            "0f8c9e4a-2b7d-4c1e-7a3f-5d6e7f809a1b",  // version 4, NCS variant
            "0f8c9e4a-2b7d-4c1e-ca3f-5d6e7f809a1b",  // version 4, Microsoft variant
            "sgl_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",  // a token pasted in the wrong box
        ])
    func malformed(text: String) throws {
        let error = expectIssuerError(.invalidInput, hiding: text.count > 8 ? [text] : []) {
            try ChosenGUID.parse(text)
        }
        #expect(isInvalidLabel(error, field: "guid"))
        #expect(error?.code == .invalidInput)
        #expect(ErrorContract.entry(for: .invalidInput).httpStatus == 422)
    }

    @Test("A request carrying a non-v4 GUID is refused before the ledger is touched")
    func notV4AtIssue() throws {
        let v1 = try guid("0f8c9e4a-2b7d-1c1e-9a3f-5d6e7f809a1b")
        let error = expectIssuerError(.invalidInput) { try issuer.issue(chosen(v1), by: alice, now: t0) }
        #expect(isInvalidLabel(error, field: "guid"))
        #expect(try issuer.isEmpty())
        #expect(try issuer.events(.issue).isEmpty)
    }

    /// How a GUID came to be used before the second issue.
    enum Use: String, CaseIterable, Sendable {
        case live, deactivated, revoked, deleted, purged
    }

    @Test("A GUID this ledger used is a conflict (409), whatever became of its token", arguments: Use.allCases)
    func reused(use: Use) throws {
        let id = TokenMinter.newTokenID()
        // Short-lived, so compaction may purge its tombstone.
        var first = chosen(id, name: "first")
        first.expiry = .at(t0 + 60)
        _ = try issuer.issue(first, by: alice, now: t0)
        var now = t0 + 1
        switch use {
        case .live: break
        case .deactivated: _ = try issuer.change(.deactivate, [id], by: alice, now: now)
        case .revoked: _ = try issuer.change(.revoke, [id], by: alice, now: now)
        case .deleted: _ = try issuer.change(.delete, [id], by: alice, now: now)
        case .purged:
            _ = try issuer.change(.delete, [id], by: alice, now: now)
            now = t0 + 60 + Issuer.maxLeeway + 10
            _ = try issuer.compactLedger(by: alice, now: now)
            #expect(try issuer.stored(id) == nil, "the tombstone was purged")
        }
        let error = expectIssuerError(.conflict) { try issuer.issue(chosen(id, name: "second"), by: alice, now: now) }
        #expect(error?.code == .conflict)
        #expect(ErrorContract.entry(for: .conflict).httpStatus == 409)
        #expect(isInvalidLabel(error, field: "guid"))
        #expect(try issuer.events(.issue).count == 1, "the refused issue wrote no event")
        if use != .purged { #expect(try issuer.stored(id)?.name == "first", "the first token is untouched") }
    }

    @Test("Through a caller: the chosen GUID is kept and the delegation rules still apply first")
    func asCaller() throws {
        let org = try issuer.issue(request("org", audience: Caller.organization, scope: .all), by: alice, now: t0)
        let caller = Caller(record: org.record)
        let id = TokenMinter.newTokenID()
        let issued = try issuer.issue(chosen(id), as: caller, now: t0)
        #expect(issued.record.id == id)
        #expect(issued.record.parent == org.record.id)
        // The caller's own GUID was used (by the caller itself).
        var again = chosen(org.record.id)
        again.audience = "billing"
        expectIssuerError(.conflict) { try issuer.issue(again, as: caller, now: t0) }
        // A read-only caller is refused for its rights, whatever GUID it names.
        let reader = try issuer.issue(request("reader", audience: Caller.organization, scope: .readOnly), by: alice)
        expectIssuerError(.forbidden) {
            try issuer.issue(chosen(TokenMinter.newTokenID()), as: Caller(record: reader.record), now: t0)
        }
    }
}
