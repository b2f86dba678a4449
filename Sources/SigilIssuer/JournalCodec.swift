import SigilVerifier

/// Reads and writes journal lines (one JSON object per line) with ``JSONReader`` and
/// ``JSONWriter``. Keys are written sorted, as JSONEncoder's `.sortedKeys` would.
public enum JournalCodec {
    public static func encode(_ record: JournalRecord) -> [UInt8] {
        var w = JSONWriter(capacity: 384)
        w.byte(0x7b)
        w.key("at", first: true)
        w.int(record.at)
        if let d = record.description {
            w.key("description")
            w.string(d)
        }
        if let g = record.guids {
            w.key("guids")
            w.stringArray(g)
        }
        if let n = record.name {
            w.key("name")
            w.string(n)
        }
        w.key("op")
        w.string(record.op.rawValue)
        if let s = record.sequence {
            w.key("sequence")
            w.uint(s)
        }
        if let s = record.status {
            w.key("status")
            w.string(s.rawValue)
        }
        if let t = record.token {
            w.key("token")
            write(t, into: &w)
        }
        w.byte(0x7d)
        return w.bytes
    }

    public static func write(_ t: TokenRecord, into w: inout JSONWriter) {
        w.byte(0x7b)
        w.key("audience", first: true)
        w.string(t.audience)
        w.key("created_at")
        w.int(t.createdAt)
        w.key("created_by")
        w.string(t.createdBy)
        if let d = t.deletedAt {
            w.key("deleted_at")
            w.int(d)
        }
        w.key("description")
        w.string(t.description)
        w.key("guid")
        w.string(t.id.description)
        w.key("kid")
        w.string(t.keyID)
        w.key("name")
        w.string(t.name)
        if let r = t.revokedAt {
            w.key("revoked_at")
            w.int(r)
        }
        w.key("scope")
        switch t.scope {
        case .all: w.string("all")
        case .readOnly: w.string("read-only")
        case .custom(let pairs): w.stringArray(pairs)
        }
        w.key("status")
        w.string(t.status.rawValue)
        w.key("updated_at")
        w.int(t.updatedAt)
        w.key("valid_from")
        w.int(t.validFrom)
        if let v = t.validTo {
            w.key("valid_to")
            w.int(v)
        }
        w.byte(0x7d)
    }

    /// Parses one line, or nil if it is not a valid journal record.
    public static func decode(_ line: UnsafeBufferPointer<UInt8>) -> JournalRecord? {
        var r = JSONReader(line)
        do {
            let record = try decodeRecord(&r)
            try r.finish()
            return record
        } catch {
            return nil
        }
    }

    static func decodeRecord(_ r: inout JSONReader) throws(JSONReader.Failure) -> JournalRecord {
        var op: JournalRecord.Operation?
        var at: Int64?
        var record = JournalRecord(op: .issue, at: 0)
        try r.object { r, key throws(JSONReader.Failure) in
            switch key {
            case "op":
                guard let o = JournalRecord.Operation(rawValue: try r.string()) else { throw JSONReader.Failure() }
                op = o
            case "at": at = try r.int()
            case "token": record.token = try decodeToken(&r)
            case "guids": record.guids = try r.stringArray()
            case "name": record.name = try r.string()
            case "description": record.description = try r.string()
            case "status":
                guard let s = TokenStatus(rawValue: try r.string()) else { throw JSONReader.Failure() }
                record.status = s
            case "sequence": record.sequence = try r.uint()
            default: try r.skipValue()
            }
        }
        guard let op, let at else { throw JSONReader.Failure() }
        record.op = op
        record.at = at
        switch op {
        case .issue: guard record.token != nil else { throw JSONReader.Failure() }
        case .edit, .delete: guard record.guids != nil else { throw JSONReader.Failure() }
        case .status: guard record.guids != nil, record.status != nil else { throw JSONReader.Failure() }
        case .export: guard record.sequence != nil else { throw JSONReader.Failure() }
        }
        return record
    }

    static func decodeToken(_ r: inout JSONReader) throws(JSONReader.Failure) -> TokenRecord {
        var id: TokenID?, name: String?, description = "", audience: String?, scope: Scope?
        var validFrom: Int64?, validTo: Int64?, keyID: String?, status: TokenStatus?
        var createdAt: Int64?, updatedAt: Int64?, revokedAt: Int64?, createdBy = "", deletedAt: Int64?
        try r.object { r, key throws(JSONReader.Failure) in
            switch key {
            case "guid":
                guard let g = TokenID(uuidString: try r.string()) else { throw JSONReader.Failure() }
                id = g
            case "name": name = try r.string()
            case "description": description = try r.string()
            case "audience": audience = try r.string()
            case "scope":
                if r.peekIsString() {
                    switch try r.string() {
                    case "all": scope = .all
                    case "read-only": scope = .readOnly
                    default: throw JSONReader.Failure()
                    }
                } else {
                    scope = .custom(try r.stringArray())
                }
            case "valid_from": validFrom = try r.int()
            case "valid_to": validTo = r.null() ? nil : try r.int()
            case "kid": keyID = try r.string()
            case "status":
                guard let s = TokenStatus(rawValue: try r.string()) else { throw JSONReader.Failure() }
                status = s
            case "created_at": createdAt = try r.int()
            case "updated_at": updatedAt = try r.int()
            case "revoked_at": revokedAt = r.null() ? nil : try r.int()
            case "created_by": createdBy = try r.string()
            case "deleted_at": deletedAt = r.null() ? nil : try r.int()
            default: try r.skipValue()
            }
        }
        guard let id, let name, let audience, let scope, let validFrom, let keyID, let status, let createdAt,
            let updatedAt
        else { throw JSONReader.Failure() }
        return TokenRecord(
            id: id, name: name, description: description, audience: audience, scope: scope, validFrom: validFrom,
            validTo: validTo, keyID: keyID, status: status, createdAt: createdAt, updatedAt: updatedAt,
            revokedAt: revokedAt, createdBy: createdBy, deletedAt: deletedAt)
    }
}
