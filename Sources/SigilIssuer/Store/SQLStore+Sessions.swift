package import SigilVerifier

/// The `sessions` columns every session read selects, in the order ``SessionRecord/init(row:)`` reads.
private let sessionColumns = "id_hash, guid, created_at, expires_at, member"

extension SessionRecord {
    /// A `sessions` row; nil for a damaged one (a GUID or hash of the wrong length), which
    /// authenticates nobody.
    init?(row r: some SQLRow) {
        guard let id = r.tokenID(1) else { return nil }
        let hash = r.bytes(0)
        guard hash.count == 32 else { return nil }
        let member = r.tokenID(4)
        guard r.isNull(4) || member == id else { return nil }
        self.init(idHash: hash, ownerID: id, createdAt: r.int64(2), expiresAt: r.int64(3), isMember: member != nil)
    }
}

extension SQLStore {
    package func insertSession(_ session: SessionRecord) throws {
        try run(
            "INSERT INTO sessions (\(sessionColumns)) VALUES (?1, ?2, ?3, ?4, ?5)",
            [
                .bytes(session.idHash), .bytes(session.ownerID.bytes), .int(session.createdAt),
                .int(session.expiresAt), .bytes(session.isMember ? session.ownerID.bytes : nil),
            ])
    }

    package func session(idHash: [UInt8]) throws -> SessionRecord? {
        try rows("SELECT \(sessionColumns) FROM sessions WHERE id_hash = ?1", [.bytes(idHash)]) {
            SessionRecord(row: $0)
        }.first ?? nil
    }

    package func deleteSession(idHash: [UInt8]) throws -> Bool {
        try run("DELETE FROM sessions WHERE id_hash = ?1", [.bytes(idHash)]) > 0
    }

    package func deleteSessions(expiredAt now: Int64) throws -> Int {
        try run("DELETE FROM sessions WHERE expires_at <= ?1", [.int(now)])
    }

    package func sessions(of id: TokenID, member: Bool) throws -> [SessionRecord] {
        let kind = member ? "member = ?1" : "member IS NULL"
        return try rows(
            "SELECT \(sessionColumns) FROM sessions WHERE guid = ?1 AND \(kind) ORDER BY seq", [.bytes(id.bytes)]
        ) {
            SessionRecord(row: $0)
        }.compactMap { $0 }
    }

    package func sessionCount() throws -> Int { Int(try integer("SELECT count(*) FROM sessions") ?? 0) }
}
