import Foundation
import SigilVerifier
import Testing

@Suite("VerifierService: one call from two files")
struct VerifierServiceTests {
    typealias Directory = RevocationWatcherTests.TemporaryDirectory

    /// A directory holding the test-only keyset (audience `billing`, key `k1`, list key `r1`).
    static func directoryWithKeyset() throws -> Directory {
        let directory = try Directory()
        let keyset = try Keyset(
            audience: TestKeys.audience, tokenKeys: [TokenKey(keyID: "k1", key: TestKeys.audienceKey())],
            revocationKeys: [TestKeys.revocationKey()])
        try directory.replace("keyset.json", with: keyset.json())
        return directory
    }

    static func service(_ directory: Directory, whenNoList: RevocationStore.NoListPolicy = .failClosed) throws
        -> VerifierService
    {
        try VerifierService(
            keysetPath: directory.path + "/keyset.json", revocationsPath: directory.path + "/revocations.sgl",
            whenNoList: whenNoList, pollInterval: .milliseconds(10))
    }

    static let token1 = Result { try TestKeys.mint(TestKeys.claims(id: TestKeys.id1)) }
    static let token2 = Result { try TestKeys.mint(TestKeys.claims(id: TestKeys.id2)) }

    @Test("It verifies tokens against the keyset and refuses those the list revokes")
    func verifiesAndRevokes() throws {
        let directory = try Self.directoryWithKeyset()
        try directory.replace("revocations.sgl", with: try buildList([(TestKeys.id1, .revoked)], sequence: 3))
        let sigil = try Self.service(directory)
        #expect(sigil.verifier.audience == TestKeys.audience)
        #expect(sigil.revocations.list.sequence == 3)
        #expect(sigil.watcher.path == directory.path + "/revocations.sgl")

        let ok = try sigil.verify(
            try Self.token2.get(), for: Permission(literal: "devices.list", access: .read), at: TestKeys.now)
        #expect(ok.id == TestKeys.id2)
        let error = #expect(throws: VerificationError.self) {
            try sigil.verify(try Self.token1.get(), at: TestKeys.now)
        }
        #expect(error?.reason == .revoked)
    }

    @Test("With no list yet, fail-closed refuses every token until the first list arrives")
    func failClosedWithoutList() throws {
        let directory = try Self.directoryWithKeyset()
        let sigil = try Self.service(directory, whenNoList: .failClosed)
        let error = #expect(throws: VerificationError.self) {
            try sigil.verify(try Self.token2.get(), at: TestKeys.now)
        }
        #expect(error?.reason == .revocationsStale)
        #expect(error?.description.contains("none is loaded yet") == true)

        try directory.replace("revocations.sgl", with: try buildList([(TestKeys.id1, .revoked)], sequence: 1))
        #expect(sigil.watcher.poll())
        #expect(try sigil.verify(try Self.token2.get(), at: TestKeys.now).id == TestKeys.id2)
        #expect(throws: VerificationError(.revoked)) { try sigil.verify(try Self.token1.get(), at: TestKeys.now) }
    }

    @Test("With no list yet, fail-open accepts tokens whose MAC and window check out")
    func failOpenWithoutList() throws {
        let directory = try Self.directoryWithKeyset()
        let sigil = try Self.service(directory, whenNoList: .failOpen)
        #expect(try sigil.verify(try Self.token1.get(), at: TestKeys.now).id == TestKeys.id1)
        // Fail-open is about the missing list only: a forged token still fails.
        let forged = try TestKeys.mint(TestKeys.claims(), secret: TestKeys.otherMasterSecret)
        #expect(throws: VerificationError(.badSignature)) { try sigil.verify(forged, at: TestKeys.now) }
    }

    @Test("A list file that exists but does not verify stops start-up")
    func forgedListAtStart() throws {
        let directory = try Self.directoryWithKeyset()
        let forged = try buildList([], sequence: 1, seed: TestKeys.otherRevocationSeed)
        try directory.replace("revocations.sgl", with: forged)
        let error = #expect(throws: RevocationListError.self) {
            _ = try Self.service(directory, whenNoList: .failOpen)
        }
        #expect(error?.reason == .badSignature)
    }

    @Test("A list path that cannot be stat'ed for another reason than absence stops start-up")
    func unreadableListPath() throws {
        let directory = try Self.directoryWithKeyset()
        try directory.replace("file", with: [1])
        let error = #expect(throws: RevocationListError.self) {
            _ = try VerifierService(
                keysetPath: directory.path + "/keyset.json", revocationsPath: directory.path + "/file/revocations.sgl",
                whenNoList: .failOpen)
        }
        #expect(error?.reason == .io)
        #expect(error?.detail.contains("file/revocations.sgl") == true)
    }

    @Test("A missing or invalid keyset is a KeysetError that names the path")
    func badKeyset() throws {
        let directory = try Directory()
        let missing = #expect(throws: KeysetError.self) { _ = try Self.service(directory) }
        #expect(missing?.message.contains(directory.path + "/keyset.json") == true)

        try directory.replace("keyset.json", with: Array("{}".utf8))
        let invalid = #expect(throws: KeysetError.self) { _ = try Self.service(directory) }
        #expect(invalid?.message.contains("sigil-keyset-v1") == true)
    }

    @Test("start() follows the list file until stop(); run() returns when cancelled")
    func startAndStop() async throws {
        let directory = try Self.directoryWithKeyset()
        try directory.replace("revocations.sgl", with: try buildList([], sequence: 1))
        let sigil = try Self.service(directory)
        sigil.start()
        sigil.start()  // a second start is a no-op
        try directory.replace("revocations.sgl", with: try buildList([(TestKeys.id1, .revoked)], sequence: 2))
        let deadline = ContinuousClock.now + .seconds(20)
        while sigil.revocations.list.sequence != 2, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(sigil.revocations.list.sequence == 2)
        sigil.stop()
        sigil.stop()

        let task = Task { try await sigil.run() }
        task.cancel()
        try await task.value
    }

    @Test("Permission(literal:) builds the same value as the failable initialiser")
    func permissionLiteral() throws {
        let literal = Permission(literal: "devices.delete", access: .write)
        #expect(literal == Permission("devices.delete", access: .write))
        #expect(literal.name == "devices.delete")
        #expect(literal.access == .write)
    }

    @Test("Reason codes keep their wire values and round-trip through init(rawValue:)")
    func reasonCodes() {
        #expect(
            VerificationError.Reason.allCases.map(\.rawValue) == [
                "malformed", "wrong_audience", "unknown_key", "bad_signature", "revocations_stale", "revoked",
                "deactivated", "not_yet_valid", "expired", "scope_not_granted",
            ])
        for reason in VerificationError.Reason.allCases {
            #expect(VerificationError.Reason(rawValue: reason.rawValue) == reason)
            #expect(VerificationError(reason).description.hasPrefix("[\(reason.rawValue)] \(reason.help)"))
        }
        #expect(VerificationError.Reason(rawValue: "no_such_reason") == nil)
        #expect(VerificationError(.expired, "at 5").description.hasSuffix(" (at 5)"))
    }
}
