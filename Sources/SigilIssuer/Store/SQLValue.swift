package import SigilVerifier

// The interface between the two C wrappers (SQLite.swift, Postgres.swift) and the shared SQL:
// both wrappers bind these values and expose their rows as SQLRow.

/// A value bound to a statement parameter, in either store: the one set of types both bind.
package enum SQLValue {
    case int(Int64?)
    case text(String?)
    case bytes([UInt8]?)
    /// A PostgreSQL `bytea[]`, for statements over many GUIDs at once (`= ANY($1)`).
    case byteArrays([[UInt8]])
}

/// One row of a result, read by column (0-based): what the shared decoding reads from either store.
package protocol SQLRow {
    func isNull(_ column: Int) -> Bool
    /// An integer column; 0 for NULL.
    func int64(_ column: Int) -> Int64
    func text(_ column: Int) -> String
    /// Calls `body` with the column's bytes, valid only during the call.
    func withBytes<T>(_ column: Int, _ body: (UnsafeRawBufferPointer) -> T) -> T
}

extension SQLRow {
    package func optionalInt64(_ column: Int) -> Int64? { isNull(column) ? nil : int64(column) }
    package func optionalText(_ column: Int) -> String? { isNull(column) ? nil : text(column) }
    package func bytes(_ column: Int) -> [UInt8] { withBytes(column) { Array($0) } }

    /// A 16-byte GUID column; nil for NULL or any other length.
    package func tokenID(_ column: Int) -> TokenID? {
        guard !isNull(column) else { return nil }
        return withBytes(column) { raw -> TokenID? in
            guard raw.count == 16 else { return nil }
            return TokenID(rawValue: raw.reduce(UInt128(0)) { $0 << 8 | UInt128($1) })
        }
    }
}
