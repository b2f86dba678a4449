internal import CPostgres

#if canImport(Glibc)
    import Glibc
#endif

/// An error from PostgreSQL or from libpq: the SQLSTATE (empty when the server gave none, as
/// for a connection that failed) and a message that never holds the connection's password.
package struct PostgresError: Error, Sendable, CustomStringConvertible {
    /// The five-character SQLSTATE, e.g. `55P03` (lock not available); "" for client-side errors.
    package let sqlState: String
    package let message: String
    /// The connection is gone or never came up (refused, unreachable, authentication failed).
    package let isConnectionFailure: Bool

    package var description: String { sqlState.isEmpty ? message : "\(message) (SQLSTATE \(sqlState))" }
}

/// A value bound to a statement parameter; the type decides the OID sent with it.
package typealias PostgresValue = SQLValue

/// One connection to PostgreSQL through libpq. The only Swift code in Sigil that calls libpq.
///
/// Not thread-safe: one connection belongs to one caller at a time. Every statement with values
/// goes through ``execute(_:_:)`` (`PQexecParams`) with bound, binary-format parameters and
/// binary results; ``executeScript(_:)`` runs fixed SQL (schema, `BEGIN`) without values.
///
/// ```swift
/// let connection = try PostgresConnection(url: "postgres://sigil@db.internal/sigil")
/// let rows = try connection.execute("SELECT count(*) FROM tokens WHERE audience = $1", [.text("billing")])
/// print(rows.int64(0, 0))
/// ```
package final class PostgresConnection {
    private var handle: OpaquePointer?
    /// The password from the URL (or `PGPASSWORD`), scrubbed from every message.
    private let secrets: [String]
    /// Statements prepared on this connection (`PQprepare`), by parameter types and SQL text:
    /// PostgreSQL parses and plans a statement once per connection, not once per call.
    private var prepared: [String: String] = [:]
    /// Distinct statements past this many run unprepared (a listing's filters vary its text),
    /// so a long-lived connection holds a bounded number on the server.
    package static let maxPrepared = 256

    /// Connects, giving up after `connect_timeout` seconds (10 unless the URL says otherwise).
    ///
    /// Calls `PQconninfoParse` (a malformed URL fails here, before any network use), then
    /// `PQconnectdbParams` with `expand_dbname`.
    package init(url: String) throws(PostgresError) {
        var secrets = DatabaseLocation.passwords(in: url)
        var parseError: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(url, &parseError) else {
            let message = parseError.map { String(cString: $0) } ?? "the URL cannot be parsed"
            if let parseError { PQfreemem(parseError) }
            throw PostgresError(
                sqlState: "", message: Self.scrub(Self.tidy(message), secrets), isConnectionFailure: true)
        }
        var option = options
        while let keyword = option.pointee.keyword {
            if String(cString: keyword) == "password", let value = option.pointee.val {
                secrets.append(String(cString: value))
            }
            option += 1
        }
        PQconninfoFree(options)
        self.secrets = secrets.filter { !$0.isEmpty }
        // Earlier keywords are defaults; the URL (expanded from dbname) overrides them.
        let keywords = ["connect_timeout", "fallback_application_name", "dbname"]
        let values = ["10", "sigil", url]
        let connection = withCStrings(keywords) { k in withCStrings(values) { v in PQconnectdbParams(k, v, 1) } }
        guard let connection else {
            throw PostgresError(sqlState: "", message: "out of memory", isConnectionFailure: true)
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = Self.scrub(Self.tidy(String(cString: PQerrorMessage(connection))), self.secrets)
            PQfinish(connection)
            throw PostgresError(sqlState: "", message: message, isConnectionFailure: true)
        }
        handle = connection
    }

    deinit { close() }

    /// Closes the connection (`PQfinish`).
    package func close() {
        if let handle { PQfinish(handle) }
        handle = nil
        prepared = [:]
    }

    /// Whether the connection is down (`PQstatus` is not `CONNECTION_OK`).
    package var isBroken: Bool { handle.map { PQstatus($0) != CONNECTION_OK } ?? true }

    /// Whether a transaction is open and not failed (`PQtransactionStatus` is `PQTRANS_INTRANS`);
    /// known locally, no round trip.
    package var isInHealthyTransaction: Bool { handle.map { PQtransactionStatus($0) == PQTRANS_INTRANS } ?? false }

    /// Tries to reconnect with the same parameters (`PQreset`); true when it is up again.
    package func reset() -> Bool {
        guard let handle else { return false }
        prepared = [:]  // a new session has none
        PQreset(handle)
        return PQstatus(handle) == CONNECTION_OK
    }

    private static func tidy(_ message: String) -> String {
        message.split(whereSeparator: \.isNewline)
            .map { line in String(line.drop { $0 == " " || $0 == "\t" }) }
            .filter { !$0.isEmpty }.joined(separator: "; ")
    }

    private static func scrub(_ message: String, _ secrets: [String]) -> String {
        var out = message
        for secret in secrets where !secret.isEmpty { out = out.replacing(secret, with: "***") }
        return out
    }

    private func failure(_ result: OpaquePointer?) -> PostgresError {
        let state = result.flatMap { sigil_pq_sqlstate($0) }.map { String(cString: $0) } ?? ""
        var message = result.flatMap { sigil_pq_primary_message($0) }.map { String(cString: $0) } ?? ""
        if message.isEmpty {
            message = handle.map { String(cString: PQerrorMessage($0)) } ?? "the connection is closed"
        }
        let lost = isBroken || state.hasPrefix("08") || state.hasPrefix("57P")
        return PostgresError(
            sqlState: state, message: Self.scrub(Self.tidy(message), secrets), isConnectionFailure: lost)
    }

    /// Runs fixed SQL without values, possibly several statements (`PQexec`). For schema and
    /// transaction control only: values always go through ``execute(_:_:)``.
    package func executeScript(_ sql: String) throws(PostgresError) {
        let result = PQexec(handle, sql)
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else { throw failure(result) }
    }

    /// The name `sql` with parameters of `types` is prepared under, preparing it on first use
    /// (one round trip, once); nil once ``maxPrepared`` statements are.
    private func preparedName(_ sql: String, _ types: [UInt32]) -> Result<String?, PostgresError> {
        var key = ""
        for type in types { key += "\(type)," }
        key += sql
        if let name = prepared[key] { return .success(name) }
        guard prepared.count < Self.maxPrepared else { return .success(nil) }
        let name = "sigil_\(prepared.count + 1)"
        let result = PQprepare(handle, name, sql, Int32(types.count), types)
        defer { PQclear(result) }
        guard PQresultStatus(result) == PGRES_COMMAND_OK else { return .failure(failure(result)) }
        prepared[key] = name
        return .success(name)
    }

    /// Statements prepared on this connection so far: a test hook.
    package var preparedCount: Int { prepared.count }

    /// Runs one statement with bound parameters (`$1`, `$2`, …) and returns its rows
    /// (`PQexecPrepared`, binary format both ways).
    @discardableResult
    package func execute(_ sql: String, _ parameters: [PostgresValue] = []) throws(PostgresError) -> PostgresResult {
        var refused: PostgresError?
        let result = withParameters(parameters) { count, types, values, lengths, formats -> OpaquePointer? in
            switch preparedName(sql, types) {
            case .failure(let error):
                refused = error
                return nil
            case .success(let name?): return PQexecPrepared(handle, name, count, values, lengths, formats, 1)
            case .success(nil): return PQexecParams(handle, sql, count, types, values, lengths, formats, 1)
            }
        }
        if let refused { throw refused }
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else {
            defer { PQclear(result) }
            throw failure(result)
        }
        return PostgresResult(result)
    }

    /// Runs one query and calls `body` with each row as it arrives, holding one row at a time
    /// (`PQsendQueryPrepared`, `PQsetSingleRowMode`, `PQgetResult`). An error from the server
    /// after some rows (a damaged row, `statement_timeout`) is thrown after those rows; if
    /// `body` throws, the rest of the result is read and dropped, so the connection is ready
    /// for the next statement, and `body`'s error is thrown.
    package func stream(_ sql: String, _ parameters: [PostgresValue], _ body: (PostgresRow) throws -> Void) throws {
        var refused: PostgresError?
        let sent = withParameters(parameters) { count, types, values, lengths, formats -> Int32 in
            switch preparedName(sql, types) {
            case .failure(let error):
                refused = error
                return 0
            case .success(let name?): return PQsendQueryPrepared(handle, name, count, values, lengths, formats, 1)
            case .success(nil): return PQsendQueryParams(handle, sql, count, types, values, lengths, formats, 1)
            }
        }
        if let refused { throw refused }
        guard sent == 1 else { throw failure(nil) }
        _ = PQsetSingleRowMode(handle)
        var failed: (any Error)?
        while let result = PQgetResult(handle) {
            let status = PQresultStatus(result)
            if failed != nil || status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK {
                PQclear(result)
            } else if status == PGRES_SINGLE_TUPLE {
                do { try body(PostgresRow(result: PostgresResult(result), row: 0)) } catch { failed = error }
            } else {
                failed = failure(result)
                PQclear(result)
            }
        }
        if let failed { throw failed }
    }

    /// Lays `parameters` out in binary format for libpq and calls `body` with their count,
    /// type OIDs, value pointers (NULL for SQL NULL), lengths and formats.
    private func withParameters<R>(
        _ parameters: [PostgresValue],
        _ body: (Int32, [UInt32], [UnsafePointer<CChar>?], [Int32], [Int32]) -> R
    ) -> R {
        var buffer: [UInt8] = []
        var ranges: [Range<Int>?] = []
        var types: [UInt32] = []
        for value in parameters {
            let start = buffer.count
            switch value {
            case .int(let n):
                types.append(20)  // int8
                guard let n else {
                    ranges.append(nil)
                    continue
                }
                withUnsafeBytes(of: n.bigEndian) { buffer.append(contentsOf: $0) }
            case .text(let t):
                types.append(25)  // text
                guard let t else {
                    ranges.append(nil)
                    continue
                }
                buffer.append(contentsOf: t.utf8)
            case .bytes(let b):
                types.append(17)  // bytea
                guard let b else {
                    ranges.append(nil)
                    continue
                }
                buffer.append(contentsOf: b)
            case .byteArrays(let items):
                types.append(1001)  // bytea[]: dimensions, has-nulls, element type, length, lower bound
                for word in [Int32(1), 0, 17, Int32(items.count), 1] {
                    withUnsafeBytes(of: word.bigEndian) { buffer.append(contentsOf: $0) }
                }
                for item in items {
                    withUnsafeBytes(of: Int32(item.count).bigEndian) { buffer.append(contentsOf: $0) }
                    buffer.append(contentsOf: item)
                }
            }
            ranges.append(start..<buffer.count)
        }
        buffer.append(0)  // a valid base address even when every value is empty
        let lengths = ranges.map { Int32($0?.count ?? 0) }
        let formats = [Int32](repeating: 1, count: parameters.count)
        return buffer.withUnsafeBytes { bytes in
            let base = bytes.bindMemory(to: CChar.self).baseAddress
            let pointers: [UnsafePointer<CChar>?] = ranges.map { range in
                range.flatMap { r in base.map { $0 + r.lowerBound } }
            }
            return body(Int32(parameters.count), types, pointers, lengths, formats)
        }
    }

    /// Notifications that arrived since the last call (`PQconsumeInput`, `PQnotifies`): the
    /// channel and payload of each. Never blocks.
    /// Waits up to `timeout` seconds for the server to send something (a notification), without
    /// reading it; false on timeout. Never spins: `poll(2)` on the connection's socket.
    package func waitForInput(timeout: Double) -> Bool {
        guard let handle else { return false }
        var descriptor = pollfd(fd: PQsocket(handle), events: Int16(POLLIN), revents: 0)
        guard descriptor.fd >= 0 else { return false }
        let milliseconds = Int32(min(max(timeout, 0), 60) * 1000)
        return poll(&descriptor, 1, milliseconds) > 0
    }

    package func notifications() throws(PostgresError) -> [(channel: String, payload: String)] {
        guard PQconsumeInput(handle) == 1 else { throw failure(nil) }
        var out: [(String, String)] = []
        while let notice = PQnotifies(handle) {
            out.append((String(cString: notice.pointee.relname), String(cString: notice.pointee.extra)))
            PQfreemem(notice)
        }
        return out
    }
}

/// Calls `body` with a NULL-terminated-free array of C strings that live during the call.
private func withCStrings<R>(_ strings: [String], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    var owned = strings.map { strdup($0) }
    defer { for p in owned { free(p) } }
    owned.append(nil)
    return body(owned.map { $0.map { UnsafePointer($0) } })
}

/// The rows of one statement, freed with it (`PQclear`). Columns are read in binary format.
package final class PostgresResult {
    private let raw: OpaquePointer?

    fileprivate init(_ raw: OpaquePointer?) { self.raw = raw }

    deinit { PQclear(raw) }

    package var rowCount: Int { Int(PQntuples(raw)) }

    /// Rows an INSERT, UPDATE or DELETE touched (`PQcmdTuples`).
    package var affectedRows: Int { Int(String(cString: PQcmdTuples(raw))) ?? 0 }

    package func isNull(_ row: Int, _ column: Int) -> Bool { PQgetisnull(raw, Int32(row), Int32(column)) == 1 }

    package func withBytes<T>(_ row: Int, _ column: Int, _ body: (UnsafeRawBufferPointer) -> T) -> T {
        let count = Int(PQgetlength(raw, Int32(row), Int32(column)))
        guard let base = PQgetvalue(raw, Int32(row), Int32(column)), count > 0 else {
            return body(UnsafeRawBufferPointer(start: nil, count: 0))
        }
        return body(UnsafeRawBufferPointer(start: base, count: count))
    }

    /// An integer column (int8, int4, int2 or bool), big-endian as the binary format sends it.
    package func int64(_ row: Int, _ column: Int) -> Int64 {
        withBytes(row, column) { bytes in
            var value: Int64 = 0
            for byte in bytes { value = value << 8 | Int64(byte) }
            // Sign-extend the narrower types.
            let bits = bytes.count * 8
            if bits > 0, bits < 64, value & (1 << (bits - 1)) != 0 { value -= 1 << bits }
            return bytes.count == 1 ? Int64(bytes[0]) : value
        }
    }

    package func optionalInt64(_ row: Int, _ column: Int) -> Int64? { isNull(row, column) ? nil : int64(row, column) }

    package func text(_ row: Int, _ column: Int) -> String {
        withBytes(row, column) { String(decoding: $0, as: UTF8.self) }
    }

    package func optionalText(_ row: Int, _ column: Int) -> String? { isNull(row, column) ? nil : text(row, column) }

    package func bytes(_ row: Int, _ column: Int) -> [UInt8] { withBytes(row, column) { Array($0) } }
}

/// One row of a ``PostgresResult``, for the shared decoding (``SQLRow``).
package struct PostgresRow: SQLRow {
    let result: PostgresResult
    let row: Int

    package func isNull(_ column: Int) -> Bool { result.isNull(row, column) }
    package func int64(_ column: Int) -> Int64 { result.int64(row, column) }
    package func text(_ column: Int) -> String { result.text(row, column) }
    package func withBytes<T>(_ column: Int, _ body: (UnsafeRawBufferPointer) -> T) -> T {
        result.withBytes(row, column, body)
    }
}
