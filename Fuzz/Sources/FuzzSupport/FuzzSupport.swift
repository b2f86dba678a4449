import CFuzzDriver
import Foundation
import SigilIssuer
import SigilVerifier

#if canImport(Glibc)
    import Glibc
#endif

/// Runs libFuzzer with `body` as the per-input callback, then exits with libFuzzer's status.
///
/// Each harness's main.swift calls this: SwiftPM links its own `main`, so libFuzzer's is
/// never used, and `LLVMFuzzerRunDriver` parses the usual libFuzzer flags instead.
public enum Fuzz {
    // Set once in `run` before libFuzzer starts; libFuzzer calls back on one thread.
    nonisolated(unsafe) static var body: ((UnsafeRawBufferPointer) -> Void)?

    public static func run(_ body: @escaping (UnsafeRawBufferPointer) -> Void) -> Never {
        Fuzz.body = body
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        let status = LLVMFuzzerRunDriver(&argc, &argv) { data, size in
            let bytes = UnsafeRawBufferPointer(start: data, count: size)
            Fuzz.body?(bytes)
            return 0
        }
        exit(status)
    }

    /// Fails the run (libFuzzer saves the input as crash-*) when a property does not hold.
    public static func require(
        _ condition: Bool, _ message: @autoclosure () -> String, file: StaticString = #fileID, line: UInt = #line
    ) {
        guard !condition else { return }
        let text = "PROPERTY FAILED at \(file):\(line): \(message())\n"
        _ = Array(text.utf8).withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        abort()
    }
}

/// Reads structured values from fuzz input; past the end it yields zeros, so every input
/// maps to some value and the fuzzer can grow inputs field by field.
public struct ByteReader {
    public let bytes: [UInt8]
    public private(set) var offset = 0

    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public init(_ raw: UnsafeRawBufferPointer) { bytes = Array(raw) }

    public var isAtEnd: Bool { offset >= bytes.count }
    public var remaining: ArraySlice<UInt8> { offset < bytes.count ? bytes[offset...] : [] }

    public mutating func byte() -> UInt8 {
        defer { offset += 1 }
        return offset < bytes.count ? bytes[offset] : 0
    }

    public mutating func bytes(_ n: Int) -> [UInt8] { (0..<max(0, n)).map { _ in byte() } }

    public mutating func u64() -> UInt64 { bytes(8).reduce(0) { $0 << 8 | UInt64($1) } }
    public mutating func i64() -> Int64 { Int64(bitPattern: u64()) }

    /// A string of 0...max characters drawn from `alphabet`.
    public mutating func string(from alphabet: [UInt8], max: Int) -> String {
        let n = Int(byte()) % (max + 1)
        return String(decoding: (0..<n).map { _ in alphabet[Int(byte()) % alphabet.count] }, as: UTF8.self)
    }

    /// Everything left, as text (invalid UTF-8 is repaired, as any String would be).
    public mutating func rest() -> [UInt8] {
        defer { offset = bytes.count }
        return Array(remaining)
    }
}

public enum Alphabet {
    public static let keyID = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-".utf8)
    public static let audience = keyID + Array(".:".utf8)
    public static let scopePart = Array("abcdefghijklmnopqrstuvwxyz0123456789_-".utf8)
}

/// The Ed25519 public key of `seed`, through the issuer's public API (a keyring's signing
/// key is the only public way from a seed to its public key).
public func ed25519PublicKey(seed: [UInt8]) -> [UInt8] {
    let json = #"{"kid":"r1","seed":"\#(Base64URL.encode(seed))","created_at":0}"#
    guard let key = try? JSONDecoder().decode(Keyring.SigningKey.self, from: Data(json.utf8)) else {
        preconditionFailure("a 32-byte seed decodes")
    }
    return key.publicKey
}
