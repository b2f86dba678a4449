/// A keyset, key or verifier configuration that cannot be used. The message says why and
/// never contains key bytes.
public struct KeysetError: Error, Sendable, Hashable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
