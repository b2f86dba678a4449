import Foundation
import SigilIssuer
import SigilVerifier
import Testing

@Suite("One wire model: the Codable types and the fast writer agree")
struct WireModelTests {
    static let guid = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"
    static let parentGUID = "11111111-2222-4333-8444-555555555555"

    static func id(_ text: String) -> TokenID {
        guard let id = TokenID(uuidString: text) else { preconditionFailure("not a GUID: \(text)") }
        return id
    }

    static func row(
        name: String = "billing-api", description: String = "", scope: Scope = .all, validTo: Int64? = 1_900_000_000,
        status: TokenStatus = .active, revokedAt: Int64? = nil, deletedAt: Int64? = nil, parent: TokenID? = nil
    ) -> TokenRecord {
        TokenRecord(
            id: Self.id(guid), name: name, description: description, audience: "billing",
            scope: scope, validFrom: 1_700_000_000, validTo: validTo, keyID: "k2026a", status: status,
            createdAt: 1_700_000_000, updatedAt: 1_700_000_100, revokedAt: revokedAt, createdBy: "ops@host",
            deletedAt: deletedAt, parent: parent)
    }

    static let rows: [TokenRecord] = [
        row(),
        row(validTo: nil),
        row(scope: .readOnly),
        row(scope: .custom(["invoices.read", "invoices.create"])),
        row(scope: .custom(["a.b"]), parent: id(parentGUID)),
        row(status: .revoked, revokedAt: 1_800_000_000),
        row(status: .inactive),
        row(deletedAt: 1_700_000_100),
        row(name: "quote \" back\\slash /slash", description: "tab\tnew\nline\r cr \u{1} \u{8} \u{c} \u{1f} \u{7f}"),
        row(name: "Zürich ☃ 𝄞", description: "\u{2028}\u{2029} é"),
        row(validTo: -62_135_596_800),
    ]

    @Test(
        "list --json's streaming writer writes exactly what WireToken encodes",
        .bug(id: 21, "three token JSON writers drifted"), arguments: rows)
    func streamingWriterMatchesCodable(row: TokenRecord) throws {
        var w = JSONWriter()
        w.token(row)
        let codable = Wire.encode(WireToken(row))
        #expect(String(decoding: w.bytes, as: UTF8.self) == String(decoding: codable, as: UTF8.self))
        #expect(w.bytes == codable)
    }

    @Test(
        "Wire.encode's direct writer writes exactly what the encoder makes: API rows, issue answers, pages",
        arguments: rows)
    func directWriterMatchesEncoder(row: TokenRecord) throws {
        for value in [
            WireToken(row, writesParent: true), WireToken(row), WireToken(row, token: "sgl_x\"y/z", writesParent: true),
            WireToken(row, writesParent: true, creatorName: "Deploy \"bot\" ☃"),
        ] {
            #expect(Wire.encode(value) == Array(try Wire.encoder.encode(value)))
        }
        for page in [
            WirePage(items: [WireToken(row, writesParent: true), WireToken(row)], nextCursor: "42"),
            WirePage(items: [WireToken(row, writesParent: true)], nextCursor: nil),
            WirePage(items: [WireToken](), nextCursor: nil),
        ] {
            let direct = Wire.encode(page)
            #expect(
                String(decoding: direct, as: UTF8.self)
                    == String(decoding: try Wire.encoder.encode(page), as: UTF8.self))
        }
    }

    @Test("A token row reads back as the record it was written from", arguments: rows)
    func tokenRoundTrip(row: TokenRecord) throws {
        let back = try Wire.decoder.decode(WireToken.self, from: Data(Wire.encode(WireToken(row, writesParent: true))))
        #expect(back.record == row)
    }

    @Test("Unset fields are null, never left out; parent only in API rows")
    func nulls() throws {
        let bare = String(decoding: Wire.encode(WireToken(Self.row(validTo: nil))), as: UTF8.self)
        #expect(bare.contains(#""revoked_at":null"#) && bare.contains(#""valid_to":null"#))
        #expect(bare.contains(#""expires":"never""#) && !bare.contains("parent"))
        let api = String(decoding: Wire.encode(WireToken(Self.row(), writesParent: true)), as: UTF8.self)
        #expect(api.contains(#""parent":null"#))
    }

    @Test("A page puts its items under their key and next_cursor null on the last page")
    func page() throws {
        let text = String(
            decoding: Wire.encode(WirePage(items: [WireToken](), nextCursor: nil)), as: UTF8.self)
        #expect(text == #"{"next_cursor":null,"tokens":[]}"#)
        let events = WirePage(
            items: [
                WireEvent(AuditEvent(at: 5, actor: "a", action: .issue, guids: [], detailsJSON: #"{"b":"1","a":"2"}"#))
            ],
            nextCursor: "100")
        #expect(
            String(decoding: Wire.encode(events), as: UTF8.self)
                == #"{"events":[{"action":"issue","actor":"a","at":5,"details":{"a":"2","b":"1"},"guids":[]}],"next_cursor":"100"}"#
        )
    }

    @Test("An error body keeps its fields, sorted, with code")
    func errorBody() throws {
        let body = WireError(
            error: "insufficient_scope", message: "no", code: "forbidden", fields: ["scope": "tokens.create"])
        let text = String(decoding: Wire.encode(body), as: UTF8.self)
        #expect(text == #"{"code":"forbidden","error":"insufficient_scope","message":"no","scope":"tokens.create"}"#)
        #expect(try Wire.decoder.decode(WireError.self, from: Data(text.utf8)) == body)
    }
}
