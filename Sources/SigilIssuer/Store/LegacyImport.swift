import Foundation
import SigilVerifier

/// Reads a v0.1 home's `ledger.jsonl` and `catalog.json` once, to import them into the database.
///
/// Run only by the first command that finds them and no database; afterwards they are renamed
/// `*.imported` and never read again. Foundation's JSON parser is fast enough for a one-time
/// import, so no journal codec is kept. A torn last line (an interrupted write) is skipped, as
/// v0.1 did; any other damaged line stops the import with nothing changed.
enum LegacyImport {
    struct Result {
        var tokens: [TokenID: TokenRecord] = [:]
        var order: [TokenID] = []
        var sequence: UInt64 = 0
        var lines = 0
        var skippedTornLine = false

        /// Inserts the tokens in issue order, inside the caller's transaction, reporting them.
        func insert(into store: any LedgerStore, progress: ProgressHandler?) throws {
            var written = ProgressCounter("importing", total: Int64(order.count), unit: .tokens, progress)
            for id in order {
                if let t = tokens[id] { try store.insert(t) }
                written.add()
            }
            written.finish()
        }
    }

    static func readLedger(_ path: String, progress: ProgressHandler? = nil) throws(IssuerError) -> Result {
        let bytes = try SecureFile.read(path)
        var result = Result()
        let lines = bytes.split(separator: 0x0a, omittingEmptySubsequences: false)
        var read = ProgressCounter("reading the v0.1 ledger", total: Int64(lines.count), unit: .rows, progress)
        defer { read.finish() }
        for (index, line) in lines.enumerated() {
            read.add()
            let isLast = index == lines.count - 1 || (index == lines.count - 2 && lines[lines.count - 1].isEmpty)
            if line.isEmpty {
                if index == lines.count - 1 { break }  // the newline after the last record
                if isLast { break }
                throw IssuerError(.badData, "\(path) line \(index + 1) is empty; restore the ledger from a backup")
            }
            guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else {
                if isLast {
                    result.skippedTornLine = true
                    break
                }
                throw IssuerError(
                    .badData,
                    "\(path) line \(index + 1) is corrupted; nothing was imported. Restore the ledger from a backup, or remove that line."
                )
            }
            do throws(IssuerError) {
                try apply(object, to: &result)
            } catch {
                throw IssuerError(.badData, "\(path) line \(index + 1): \(error.message); nothing was imported")
            }
            result.lines += 1
        }
        return result
    }

    private static func int(_ value: Any?) -> Int64? {
        // int64Value wraps 2^63 to Int64.min: keep only numbers that survive the conversion.
        guard let number = value as? NSNumber else { return nil }
        let integer = number.int64Value
        return number.compare(NSNumber(value: integer)) == .orderedSame && "\(number)" == "\(integer)" ? integer : nil
    }

    private static func apply(_ o: [String: Any], to state: inout Result) throws(IssuerError) {
        guard let op = o["op"] as? String, let at = int(o["at"]) else {
            throw IssuerError(.badData, "a record without op and at")
        }
        switch op {
        case "issue":
            guard let t = o["token"] as? [String: Any] else { throw IssuerError(.badData, "an issue without a token") }
            let record = try token(t)
            if state.tokens.updateValue(record, forKey: record.id) == nil { state.order.append(record.id) }
        case "edit", "status", "delete":
            for text in o["guids"] as? [String] ?? [] {
                guard let id = TokenID(uuidString: text), var t = state.tokens[id] else { continue }
                switch op {
                case "edit":
                    if let name = o["name"] as? String { t.name = name }
                    if let description = o["description"] as? String { t.description = description }
                case "status":
                    guard let status = (o["status"] as? String).flatMap(TokenStatus.init(rawValue:)) else { continue }
                    t.status = status
                    if status == .revoked, t.revokedAt == nil { t.revokedAt = at }
                default:
                    t.deletedAt = at
                    t.status = .revoked
                    if t.revokedAt == nil { t.revokedAt = at }
                }
                t.updatedAt = at
                state.tokens[id] = t
            }
        case "export":
            // Written as an unsigned integer; NSNumber keeps values past Int64.max.
            if let number = o["sequence"] as? NSNumber { state.sequence = max(state.sequence, number.uint64Value) }
        default:
            throw IssuerError(.badData, "unknown operation \(op)")
        }
    }

    private static func token(_ t: [String: Any]) throws(IssuerError) -> TokenRecord {
        guard let guid = (t["guid"] as? String).flatMap(TokenID.init(uuidString:)),
            let name = t["name"] as? String, let audience = t["audience"] as? String,
            let validFrom = int(t["valid_from"]), let keyID = t["kid"] as? String,
            let status = (t["status"] as? String).flatMap(TokenStatus.init(rawValue:)),
            let createdAt = int(t["created_at"]), let updatedAt = int(t["updated_at"])
        else { throw IssuerError(.badData, "a token record lacks a field") }
        // What the database refuses to read back must not get in: the same checks as at issue.
        guard TokenClaims.isValidAudience(audience), TokenClaims.isValidKeyID(keyID) else {
            throw IssuerError(.badData, "a token record has an invalid audience or key ID")
        }
        let scope: Scope
        if let pairs = t["scope"] as? [String] {
            guard !pairs.isEmpty, pairs.allSatisfy({ Scope.isValidPair($0) }) else {
                throw IssuerError(.badData, "a token record has an invalid custom scope")
            }
            scope = .custom(pairs)
        } else if t["scope"] as? String == "all" {
            scope = .all
        } else if t["scope"] as? String == "read-only" {
            scope = .readOnly
        } else {
            throw IssuerError(.badData, "a token record has an unknown scope")
        }
        return TokenRecord(
            id: guid, name: name, description: t["description"] as? String ?? "", audience: audience, scope: scope,
            validFrom: validFrom, validTo: int(t["valid_to"]), keyID: keyID, status: status, createdAt: createdAt,
            updatedAt: updatedAt, revokedAt: int(t["revoked_at"]), createdBy: t["created_by"] as? String ?? "",
            deletedAt: int(t["deleted_at"]))
    }

    /// A v0.1 `catalog.json`: `{"format":"sigil-catalog-v1","resources":{r:{a:"read"|"write"}}}`.
    static func readCatalog(_ path: String) throws(IssuerError) -> Catalog {
        // Not a secret: v0.1 wrote it 0600, but an operator may have made it readable.
        let bytes: [UInt8]
        do { bytes = try FileBytes.read(path: path, maxBytes: 1 << 20) } catch {
            throw IssuerError(.badData, "cannot read \(path): \(error.description); nothing was imported")
        }
        guard let o = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
            o["format"] as? String == Catalog.format, let resources = o["resources"] as? [String: [String: String]]
        else { throw IssuerError(.badData, "\(path) is not a valid \(Catalog.format) catalog; nothing was imported") }
        var catalog = Catalog()
        for (resource, actions) in resources {
            for (action, access) in actions {
                guard let a = Access(rawValue: access) else {
                    throw IssuerError(.badData, "\(path): \(resource).\(action) has access '\(access)'")
                }
                try catalog.add(resource: resource, action: action, access: a)
            }
        }
        return catalog
    }
}
