import Foundation
import SigilIssuer
import SigilVerifier
import Testing

/// ``Issuer/group(_:)``: sigil-server applies the writes waiting for its writer in one
/// transaction, a savepoint each, with one commit (issue #22 item 2).
@Suite("Grouped commits", .bothStores)
struct GroupCommitTests: IssuerSuite {
    let fixture: IssuerFixture

    init() throws { fixture = try IssuerFixture() }

    struct Refused: Error {}

    @Test("A refused step undoes only itself: the steps before and after it commit")
    func refusalIsAlone() throws {
        var kept: [TokenID?] = [nil, nil]
        var undone: TokenID?
        var refusal: (any Error)?
        try issuer.group([
            { kept[0] = try? issuer.issue(request("first"), by: alice, now: t0).record.id },
            {
                // Changes, then fails: its change must not survive the group's commit.
                do {
                    undone = try issuer.issue(request("undone"), by: alice, now: t0).record.id
                    throw Refused()
                } catch {
                    refusal = error
                    throw error
                }
            },
            { kept[1] = try? issuer.issue(request("third"), by: alice, now: t0).record.id },
        ])
        #expect(refusal is Refused)
        let first = try #require(kept[0])
        let third = try #require(kept[1])
        #expect(try issuer.stored(first)?.name == "first")
        #expect(try issuer.stored(third)?.name == "third")
        #expect(try issuer.stored(try #require(undone)) == nil)
        // The audit log has the two issues, not the undone one.
        #expect(
            try issuer.events(.issue).map(\.guids).sorted { $0[0] < $1[0] }
                == [[first], [third]].sorted { $0[0] < $1[0] })
    }

    @Test("A use case refused inside a group leaves nothing, and later steps see earlier ones")
    func stepsSeeEachOther() throws {
        var issued: TokenID?
        var revoked: [TokenID] = []
        var unknown: (any Error)?
        try issuer.group([
            { issued = try? issuer.issue(request("one"), by: alice, now: t0).record.id },
            {
                do {
                    _ = try issuer.change(.revoke, [try guid("00000000-0000-4000-8000-000000000001")], by: alice)
                } catch {
                    unknown = error
                }
            },
            {
                if let issued, (try? issuer.change(.revoke, [issued], by: alice, now: t0 + 1)) != nil {
                    revoked = [issued]
                }
            },
        ])
        #expect((unknown as? IssuerError)?.reason == .notFound)
        let id = try #require(issued)
        #expect(revoked == [id])
        #expect(try issuer.stored(id)?.status == .revoked)
    }

    @Test("A step that loses the transaction makes the group throw and keeps none of it", .tags(.sqliteOnly))
    func lostTransaction() throws {
        var first: TokenID?
        var after: Result<TokenID, any Error>?
        let sqlite = try #require(issuer.store as? SQLiteStore)
        let thrown = #expect(throws: IssuerError.self) {
            try issuer.group([
                { first = try? issuer.issue(request("before"), by: alice, now: t0).record.id },
                // What SQLite does itself after an I/O error or a full disk: the transaction is gone.
                { try sqlite.db.execute("ROLLBACK") },
                { after = Result { try issuer.issue(request("after"), by: alice, now: t0).record.id } },
            ])
        }
        #expect(thrown != nil)
        // The step after the loss was refused without running: nothing ran outside the group.
        #expect(after.map { _ in "ran" } == nil)
        #expect(try issuer.stored(try #require(first)) == nil)
        #expect(try issuer.events(.issue).isEmpty)
    }

    @Test("A group's changes are one commit: a reader sees none of them until all are in")
    func oneCommit() throws {
        let reader = try Issuer(anotherConnectionTo: temp.home, database: temp.databaseURL)
        var ids: [TokenID?] = Array(repeating: nil, count: 5)
        var seenInside: Int?
        try issuer.group(
            (0..<5).map { i in
                {
                    ids[i] = try? issuer.issue(request("t\(i)"), by: alice, now: t0).record.id
                    if i == 4 { seenInside = try? reader.tokens(TokenQuery()).count }
                }
            })
        #expect(seenInside == 0)
        #expect(try reader.tokens(TokenQuery()).count == 5)
        #expect(ids.allSatisfy { $0 != nil })
    }

    @Test("A step pays one savepoint, sent with its first statement, however many use cases it calls")
    func oneSavepointPerStep() throws {
        let nesting = issuer.store.nesting
        let before = nesting.savepointsSent
        var ids: [TokenID?] = [nil, nil, nil]
        try issuer.group(
            (0..<3).map { i in
                {
                    // A write, then reads that join the transaction (no savepoint of their own).
                    let id = try issuer.issue(request("s\(i)"), by: alice, now: t0).record.id
                    _ = try issuer.tokens(TokenQuery())
                    ids[i] = try issuer.stored(id)?.id
                }
            } + [{ /* runs no statement: nothing to undo, nothing sent */  }])
        #expect(ids.allSatisfy { $0 != nil })
        #expect(nesting.savepointsSent - before == 3)
    }

    @Test("An inner write that fails undoes only itself; the step's work before and after it commits")
    func innerLevelAlone() throws {
        var kept: [TokenID] = []
        var inner: TokenID?
        try issuer.group([
            {
                kept.append(try issuer.issue(request("before"), by: alice, now: t0).record.id)
                _ = try? issuer.store.transaction(write: true) {
                    inner = try issuer.issue(request("inner"), by: alice, now: t0).record.id
                    throw Refused()
                }
                kept.append(try issuer.issue(request("after"), by: alice, now: t0).record.id)
            }
        ])
        #expect(kept.count == 2)
        for id in kept { #expect(try issuer.stored(id) != nil) }
        #expect(try issuer.stored(try #require(inner)) == nil)
        #expect(try issuer.events(.issue).count == 2)
    }

    @Test("A step that fails undoes the writes of every use case it called")
    func failedStepUndoesAll() throws {
        var first: TokenID?
        var second: TokenID?
        try issuer.group([
            {
                first = try issuer.issue(request("one"), by: alice, now: t0).record.id
                second = try issuer.issue(request("two"), by: alice, now: t0).record.id
                throw Refused()
            },
            { _ = try issuer.issue(request("kept"), by: alice, now: t0) },
        ])
        #expect(try issuer.stored(try #require(first)) == nil)
        #expect(try issuer.stored(try #require(second)) == nil)
        #expect(try issuer.tokens(TokenQuery()).map(\.name) == ["kept"])
    }
}
