/// What a token lets its bearer do, sealed at issue.
///
/// ```swift
/// let scope = Scope.custom(["devices.delete", "devices.list"])
/// print(scope.grants(Permission(literal: "devices.list", access: .read)))  // true
/// ```
public enum Scope: Sendable, Hashable {
    /// Every action on every resource, including resources added later.
    case all
    /// Every read action, including read actions added later.
    case readOnly
    /// Exactly these `resource.action` pairs, sorted bytewise, without duplicates.
    case custom([String])

    /// The wire value of the scope kind.
    public var kindCode: UInt8 {
        switch self {
        case .all: 1
        case .readOnly: 2
        case .custom: 3
        }
    }

    /// `all`, `read-only` or the comma-separated pairs.
    public var summary: String {
        switch self {
        case .all: "all"
        case .readOnly: "read-only"
        case .custom(let pairs): pairs.joined(separator: ",")
        }
    }

    /// Whether this scope grants `permission`.
    public func grants(_ permission: Permission) -> Bool {
        switch self {
        case .all: true
        case .readOnly: permission.access == .read
        case .custom(let pairs): pairs.contains(permission.name)
        }
    }

    /// Whether `part` is a valid resource or action name: `[a-z][a-z0-9_-]{0,31}`.
    public static func isValidPart(_ part: some StringProtocol) -> Bool {
        let bytes = Array(part.utf8)
        return bytes.withUnsafeBufferPointer { isValidPart($0) }
    }

    static func isValidPart(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard (1...32).contains(bytes.count), (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(bytes[0]) else {
            return false
        }
        for c in bytes.dropFirst() {
            switch c {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "_"), UInt8(ascii: "-"):
                continue
            default: return false
            }
        }
        return true
    }

    /// Whether `pair` is a valid `resource.action` entry.
    public static func isValidPair(_ pair: some StringProtocol) -> Bool {
        let bytes = Array(pair.utf8)
        return bytes.withUnsafeBufferPointer { isValidPair($0) }
    }

    static func isValidPair(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let dot = bytes.firstIndex(of: UInt8(ascii: ".")) else { return false }
        return isValidPart(UnsafeBufferPointer(rebasing: bytes[..<dot]))
            && isValidPart(UnsafeBufferPointer(rebasing: bytes[(dot + 1)...]))
    }
}

/// Whether an action reads or writes.
public enum Access: String, Sendable, Hashable, CaseIterable {
    case read, write
}

/// A permission a request needs: a `resource.action` pair and whether it reads or writes.
///
/// Build permissions once (per route), not per request: the pair's bytes are kept ready for
/// the allocation-free check in ``Verifier/verify(_:for:at:)``.
///
/// ```swift
/// enum DeviceRoutes {
///     static let listDevices = Permission(literal: "devices.list", access: .read)
/// }
/// ```
public struct Permission: Sendable, Hashable {
    /// `resource.action`.
    public let name: String
    public let access: Access
    let nameBytes: [UInt8]

    /// Nil unless both parts match `[a-z][a-z0-9_-]{0,31}`.
    public init?(resource: String, action: String, access: Access) {
        self.init("\(resource).\(action)", access: access)
    }

    /// Nil unless `pair` is a valid `resource.action`.
    public init?(_ pair: String, access: Access) {
        guard Scope.isValidPair(pair) else { return nil }
        name = pair
        nameBytes = Array(pair.utf8)
        self.access = access
    }

    /// A permission written in source, for route constants.
    ///
    /// An invalid literal is a programming error (docs/FORMAT.md), so this traps instead of
    /// returning nil; use ``init(_:access:)`` for pairs that come from input.
    ///
    /// ```swift
    /// enum Routes {
    ///     static let deleteDevice = Permission(literal: "devices.delete", access: .write)
    /// }
    /// ```
    ///
    /// - Precondition: `pair` is a valid `resource.action`.
    public init(literal pair: StaticString, access: Access) {
        let text = pair.description
        guard let permission = Permission(text, access: access) else {
            preconditionFailure("\(text) is not a valid resource.action pair")
        }
        self = permission
    }
}
