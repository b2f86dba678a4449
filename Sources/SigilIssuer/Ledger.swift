import Foundation
public import SigilVerifier

#if canImport(Glibc)
    import Glibc
#endif

/// One change in the ledger's append-only journal: one JSON object per line.
///
/// A bulk change (revoke 1,000 GUIDs) is one record, so it lands whole or not at all.
public struct JournalRecord: Codable, Sendable {
    public enum Operation: String, Codable, Sendable {
        case issue, edit, status, delete, export
    }
    public var op: Operation
    public var at: Int64
    public var token: TokenRecord?
    public var guids: [String]?
    public var name: String?
    public var description: String?
    public var status: TokenStatus?
    public var sequence: UInt64?

    public init(
        op: Operation, at: Int64, token: TokenRecord? = nil, guids: [String]? = nil, name: String? = nil,
        description: String? = nil, status: TokenStatus? = nil, sequence: UInt64? = nil
    ) {
        self.op = op
        self.at = at
        self.token = token
        self.guids = guids
        self.name = name
        self.description = description
        self.status = status
        self.sequence = sequence
    }
}

/// Everything the journal says, replayed in order.
public struct LedgerState: Sendable {
    public var tokens: [TokenID: TokenRecord] = [:]
    /// GUIDs in issue order.
    public var order: [TokenID] = []
    /// The sequence of the last revocation list exported.
    public var exportSequence: UInt64 = 0
    public var recordCount = 0
    /// Problems found while reading (a torn last record), to print as warnings.
    public var warnings: [String] = []

    public init() {}

    /// Live (not deleted) tokens in issue order.
    public var liveTokens: [TokenRecord] {
        var out: [TokenRecord] = []
        out.reserveCapacity(order.count)
        for id in order {
            if let t = tokens[id], !t.isDeleted { out.append(t) }
        }
        return out
    }

    mutating func apply(_ record: JournalRecord, line: Int) {
        recordCount += 1
        switch record.op {
        case .issue:
            guard let token = record.token else { return }
            if tokens.updateValue(token, forKey: token.id) == nil { order.append(token.id) }
        case .edit, .status, .delete:
            for text in record.guids ?? [] {
                guard let id = TokenID(uuidString: text), var token = tokens[id] else {
                    warnings.append("ledger line \(line) names an unknown GUID; ignored")
                    continue
                }
                switch record.op {
                case .edit:
                    if let name = record.name { token.name = name }
                    if let description = record.description { token.description = description }
                case .status:
                    guard let status = record.status else { continue }
                    token.status = status
                    if status == .revoked, token.revokedAt == nil { token.revokedAt = record.at }
                case .delete:
                    token.deletedAt = record.at
                    token.status = .revoked
                    if token.revokedAt == nil { token.revokedAt = record.at }
                default: break
                }
                token.updatedAt = record.at
                tokens[id] = token
            }
        case .export:
            if let sequence = record.sequence { exportSequence = max(exportSequence, sequence) }
        }
    }
}

/// The issuer's record of issued tokens: `<home>/ledger.jsonl`, an append-only journal.
///
/// Each change is one line written with a single `write` and made durable with `fsync`
/// before the command reports success, so every reported change survives `kill -9`. A torn
/// last line (a crash mid-write) is ignored with a warning and cut off by the next writer.
/// Writers must hold the ``HomeLock``. ``compact(_:)`` rewrites the journal as one record
/// per token via temp file, fsync and rename.
///
/// ```swift
/// let lock = try HomeLock(home: home, command: "revoke")
/// let ledger = Ledger(home: home)
/// try ledger.append([JournalRecord(op: .status, at: now, guids: [id.description], status: .revoked)])
/// ```
public struct Ledger: Sendable {
    public static let fileName = "ledger.jsonl"
    public let path: String

    public init(home: String) { path = home + "/" + Self.fileName }

    /// Replays the whole journal.
    ///
    /// - Throws: ``IssuerError`` `bad_data` naming the line if a record other than the last is corrupt.
    public func load() throws(IssuerError) -> LedgerState {
        var state = LedgerState()
        var st = stat()
        guard lstat(path, &st) == 0 else {
            if errno == ENOENT { return state }
            throw SecureFile.ioError("cannot read \(path)", errno, write: false)
        }
        try SecureFile.checkPrivate(path)
        let bytes = try SecureFile.read(path)
        // Issue records are ~350 bytes; reserving avoids rehashing 100k-token ledgers.
        state.tokens.reserveCapacity(bytes.count / 300)
        state.order.reserveCapacity(bytes.count / 300)
        var lineNumber = 0
        var start = 0
        let newline = UInt8(ascii: "\n")
        let failure: IssuerError? = bytes.withUnsafeBufferPointer { all -> IssuerError? in
            guard let base = all.baseAddress else { return nil }  // an empty ledger
            while start < all.count {
                lineNumber += 1
                let found = memchr(base + start, Int32(newline), all.count - start)
                let end: Int? = found.map { UnsafePointer($0.assumingMemoryBound(to: UInt8.self)) - base }
                let lineEnd = end ?? all.count
                let record = JournalCodec.decode(UnsafeBufferPointer(rebasing: all[start..<lineEnd]))
                guard let record, end != nil else {
                    if end == nil || lineEnd + 1 >= all.count {
                        // Only the last line can be torn by a crash.
                        state.warnings.append(
                            "ignored a torn last record at line \(lineNumber) of \(path) (an interrupted write); the next change removes it"
                        )
                        return nil
                    }
                    return IssuerError(
                        .badData,
                        "\(path) line \(lineNumber) is corrupted. Restore the ledger from a backup, or remove that line to continue."
                    )
                }
                state.apply(record, line: lineNumber)
                start = lineEnd + 1
            }
            return nil
        }
        if let failure { throw failure }
        return state
    }

    /// Appends `records` with one write and one fsync. The caller holds the ``HomeLock``.
    ///
    /// - Returns: A warning if a torn last line had to be cut off first.
    @discardableResult
    public func append(_ records: [JournalRecord]) throws(IssuerError) -> String? {
        guard !records.isEmpty else { return nil }
        var payload: [UInt8] = []
        for record in records {
            payload.append(contentsOf: JournalCodec.encode(record))
            payload.append(0x0a)
        }
        var existed = stat()
        let isNew = lstat(path, &existed) != 0
        if !isNew { try SecureFile.checkPrivate(path) }
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SecureFile.ioError("cannot open \(path)", errno, write: true) }
        defer { close(fd) }
        let warning = try repairTail(fd)
        guard lseek(fd, 0, SEEK_END) >= 0 else { throw SecureFile.ioError("cannot seek \(path)", errno, write: true) }
        let before = lseek(fd, 0, SEEK_CUR)
        do {
            try SecureFile.writeAll(fd, payload, path: path)
        } catch {
            // A partial write must not leave half a record for the next reader to trip on.
            ftruncate(fd, before)
            throw error
        }
        guard fsync(fd) == 0 else {
            let e = errno
            ftruncate(fd, before)
            throw SecureFile.ioError("cannot flush \(path)", e, write: true)
        }
        if isNew { SecureFile.syncDirectory((path as NSString).deletingLastPathComponent) }
        return warning
    }

    /// Cuts a torn last record so the next record starts on its own, valid line.
    ///
    /// A crash can leave the last append partly on disk: without its newline, or (when pages
    /// reach the disk out of order) with its newline but garbage before it. `load` ignores
    /// such a last line with a warning; this removes it. Only the last line is read, so
    /// appending stays independent of the ledger's size.
    private func repairTail(_ fd: Int32) throws(IssuerError) -> String? {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw SecureFile.ioError("cannot stat \(path)", errno, write: true) }
        let size = Int64(st.st_size)
        guard size > 0 else { return nil }
        var last: UInt8 = 0
        guard pread(fd, &last, 1, off_t(size - 1)) == 1 else {
            throw SecureFile.ioError("cannot read \(path)", errno, write: true)
        }
        // Where the last line starts: scan back in chunks from before its newline (if any).
        let searchEnd = last == 0x0a ? size - 1 : size
        var end = searchEnd
        var lineStart: Int64 = 0
        var chunk = [UInt8](repeating: 0, count: 4096)
        scan: while end > 0 {
            let start = max(0, end - Int64(chunk.count))
            let n = Int(end - start)
            let got = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, n, off_t(start)) }
            guard got == n else { throw SecureFile.ioError("cannot read \(path)", errno, write: true) }
            for i in stride(from: n - 1, through: 0, by: -1) where chunk[i] == 0x0a {
                lineStart = start + Int64(i) + 1
                break scan
            }
            end = start
        }
        if last == 0x0a {
            // A complete last line: keep it if it is a valid record.
            let length = Int(searchEnd - lineStart)
            var line = [UInt8](repeating: 0, count: length)
            let got = line.withUnsafeMutableBytes { pread(fd, $0.baseAddress, length, off_t(lineStart)) }
            guard got == length else { throw SecureFile.ioError("cannot read \(path)", errno, write: true) }
            let valid = line.withUnsafeBufferPointer { JournalCodec.decode($0) != nil }
            if valid { return nil }
        }
        guard ftruncate(fd, off_t(lineStart)) == 0, fsync(fd) == 0 else {
            throw SecureFile.ioError("cannot repair \(path)", errno, write: true)
        }
        return "removed a torn last record (\(size - lineStart) bytes) from \(path) left by an interrupted write"
    }

    /// Rewrites the journal as one `issue` record per token plus the export sequence,
    /// atomically (temp file, fsync, rename). The caller holds the ``HomeLock``.
    public func compact(_ state: LedgerState, now: Int64) throws(IssuerError) {
        var out: [UInt8] = []
        for id in state.order {
            guard let token = state.tokens[id] else { continue }
            // A deleted token whose window has closed no longer needs its tombstone.
            if token.isDeleted, token.hasExpired(at: now) { continue }
            out.append(contentsOf: JournalCodec.encode(JournalRecord(op: .issue, at: token.updatedAt, token: token)))
            out.append(0x0a)
        }
        if state.exportSequence > 0 {
            out.append(
                contentsOf: JournalCodec.encode(JournalRecord(op: .export, at: now, sequence: state.exportSequence)))
            out.append(0x0a)
        }
        try SecureFile.writeAtomically(out, to: path)
    }
}
