package import SigilVerifier

/// The `members` columns every member read selects, in the order ``Member/init(row:location:)`` reads.
private let memberColumns = """
    id, email, name, audience, scope_kind, scope_pairs, status, created_by, created_at, updated_at, last_sign_in_at
    """

extension Member {
    /// A `members` row, refusing damage instead of reading it as a default.
    init(row r: some SQLRow, location: String) throws(IssuerError) {
        guard let id = r.tokenID(0) else {
            throw IssuerError(
                .badData, "\(location): a member row has a bad ID", detail: .databaseCorrupt(path: location))
        }
        func damaged(_ what: String) -> IssuerError {
            IssuerError(
                .badData, "\(location): member \(id) is damaged (\(what)); restore the database from a backup",
                detail: .databaseCorrupt(path: location))
        }
        for column in 1...9 where r.isNull(column) { throw damaged("a required column is empty") }
        let pairs = r.text(5).split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard let scope = Scope(kindName: r.text(4), pairs: pairs) else { throw damaged("its scope") }
        guard let status = MemberStatus(rawValue: r.text(6)) else { throw damaged("its status") }
        self.init(
            id: id, email: r.text(1), name: r.text(2), audience: r.text(3), scope: scope, status: status,
            createdBy: r.text(7), createdAt: r.int64(8), updatedAt: r.int64(9), lastSignInAt: r.optionalInt64(10))
    }

    /// The values of ``memberColumns``.
    var columnValues: [SQLValue] {
        [
            .bytes(id.bytes), .text(email), .text(name), .text(audience), .text(scope.kindName),
            .text(scope.pairs.joined(separator: ",")), .text(status.rawValue), .text(createdBy), .int(createdAt),
            .int(updatedAt), .int(lastSignInAt),
        ]
    }
}

extension SQLStore {
    package func insertMember(_ member: Member) throws {
        try run(
            "INSERT INTO members (\(memberColumns)) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            member.columnValues)
    }

    package func updateMember(_ member: Member) throws {
        try run(
            """
            UPDATE members SET email = ?2, name = ?3, audience = ?4, scope_kind = ?5, scope_pairs = ?6, status = ?7,
                created_by = ?8, created_at = ?9, updated_at = ?10, last_sign_in_at = ?11 WHERE id = ?1
            """, member.columnValues)
    }

    package func member(_ id: TokenID) throws -> Member? {
        try rows("SELECT \(memberColumns) FROM members WHERE id = ?1", [.bytes(id.bytes)]) {
            try Member(row: $0, location: location)
        }.first
    }

    package func member(email: String) throws -> Member? {
        try rows("SELECT \(memberColumns) FROM members WHERE email = ?1", [.text(email)]) {
            try Member(row: $0, location: location)
        }.first
    }

    package func members(status: MemberStatus?, audiences: Set<String>?, limit: Int, offset: Int) throws -> [Member] {
        var values: [SQLValue] = [.int(Int64(limit)), .int(Int64(offset))]
        func next(_ value: String) -> String {
            values.append(.text(value))
            return "?\(values.count)"
        }
        var parts = ["TRUE"]
        if let status { parts.append("status = \(next(status.rawValue))") }
        if let audiences {
            parts.append(
                audiences.isEmpty ? "FALSE" : "audience IN (\(audiences.sorted().map(next).joined(separator: ", ")))")
        }
        return try rows(
            "SELECT \(memberColumns) FROM members WHERE \(parts.joined(separator: " AND ")) ORDER BY seq LIMIT ?1 OFFSET ?2",
            values
        ) { try Member(row: $0, location: location) }
    }

    package func deleteMember(_ id: TokenID) throws -> Bool {
        try run("DELETE FROM members WHERE id = ?1", [.bytes(id.bytes)]) > 0
    }

    package func memberCount() throws -> Int { Int(try integer("SELECT count(*) FROM members") ?? 0) }

    /// Every member row in order, for a snapshot.
    func memberRows() throws -> [Member] {
        try rows("SELECT \(memberColumns) FROM members ORDER BY seq") { try Member(row: $0, location: location) }
    }
}
