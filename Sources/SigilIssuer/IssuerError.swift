/// Why an issuer operation failed: a stable reason (the CLI maps it to a sysexits code)
/// and a message that says what went wrong and how to fix it, never a secret or a token.
public struct IssuerError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Reason: String, Sendable, CaseIterable {
        /// Bad arguments or input the user can fix (sysexits 64/65 depending on source).
        case invalidInput = "invalid_input"
        /// Data on disk or on stdin is not in the expected format (65).
        case badData = "bad_data"
        /// A GUID, key, file or resource does not exist (66).
        case notFound = "not_found"
        /// A file could not be written (73).
        case cannotWrite = "cannot_write"
        /// Another sigil process holds the lock (75).
        case lockBusy = "lock_busy"
        /// A file's permissions are unsafe or access was denied (77).
        case permissions
        /// The operation is not allowed in the current state (65), e.g. activating a revoked token.
        case conflict
    }

    public let reason: Reason
    public let message: String

    public init(_ reason: Reason, _ message: String) {
        self.reason = reason
        self.message = message
    }

    public var description: String { message }
}
