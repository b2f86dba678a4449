import CBenchSupport
import Foundation
import SigilIssuer
import SigilVerifier

/// Instruction counts under callgrind for verify and the C limit: unlike nanoseconds, they
/// repeat exactly however busy the machine is.
///
/// The bench re-runs itself as `valgrind --tool=callgrind sigil-bench --callgrind-child N`.
/// The child builds a small fixture (a 1,024-entry revocation list, not the 1M one, so the
/// run stays bounded under valgrind's slowdown; the binary search is 10 steps shorter), then
/// runs each loop for N (warm-up), N and 2N iterations. Callgrind dumps after each loop, so
/// (count(2N) − count(N)) / N is the cost of one operation with set-up and first-call effects
/// cancelled out. Valgrind 3.19 cannot read the Swift toolchain's DWARF ("possibly corrupted
/// debuginfo file"), so it runs on a copy without debug sections (`objcopy --strip-debug`);
/// the symbol table it needs for `--dump-after` stays.
enum Callgrind {
    static let childFlag = "--callgrind-child"

    /// Runs the child's loops if this process was started as the child. Returns true if so.
    static func runChildIfAsked() -> Bool {
        let arguments = CommandLine.arguments
        guard arguments.count == 3, arguments[1] == childFlag, let n = Int(arguments[2]), n > 0 else { return false }
        do {
            let f = try SmallFixture()
            // A warm-up run of each loop first, so its dump holds set-up and first calls.
            for count in [n, n, 2 * n] { blackHole(callgrindVerifyLoop(f, count)) }
            for count in [n, n, 2 * n] { blackHole(callgrindLimitLoop(f, count)) }
        } catch {
            SigilBench.progress("callgrind child: \(error)")
            exit(1)
        }
        return true
    }

    /// Adds `verify_instructions`, `limit_instructions` and their ratio to `report`, or prints
    /// why they are missing (no valgrind, or the run failed) and reports them as null.
    static func add(to report: inout Report, quick: Bool) {
        let figures = measure(iterations: quick ? 200 : 2_000)
        report.add("verify_instructions", figures?.verify, "instr", decimals: 0, "callgrind Ir per verify")
        report.add("limit_instructions", figures?.limit, "instr", decimals: 0, "callgrind Ir per C limit operation")
        report.add(
            "ratio_verify_to_limit_instructions", figures.map { $0.verify / $0.limit }, "x", decimals: 2,
            "verify_instructions / limit_instructions (repeatable on a busy machine)")
    }

    static func measure(iterations n: Int) -> (verify: Double, limit: Double)? {
        guard let valgrind = findValgrind() else {
            SigilBench.progress("valgrind not found in PATH; skipping instruction counts")
            return nil
        }
        var template = Array("/tmp/sigil-bench-callgrind-XXXXXX".utf8CString)
        guard
            let dir = template.withUnsafeMutableBufferPointer({ $0.baseAddress.flatMap { mkdtemp($0) } }).map({
                String(cString: $0)
            })
        else { return nil }
        defer { _ = try? Spawn.run("rm", ["-rf", dir], scratch: "/tmp", searchPath: true) }
        let out = dir + "/callgrind.out"
        let binary = dir + "/sigil-bench"
        guard
            let stripped = try? Spawn.run(
                "objcopy", ["--strip-debug", executablePath(), binary], scratch: dir, searchPath: true),
            stripped.succeeded
        else {
            SigilBench.progress("objcopy (binutils) failed or is missing; skipping instruction counts")
            return nil
        }
        let arguments = [
            "--tool=callgrind", "--callgrind-out-file=\(out)", "--dump-after=*callgrindVerifyLoop*",
            "--dump-after=*callgrindLimitLoop*", binary, childFlag, String(n),
        ]
        guard let outcome = try? Spawn.run(valgrind, arguments, scratch: dir), outcome.succeeded else {
            SigilBench.progress("callgrind run failed; skipping instruction counts")
            return nil
        }
        // Dumps .1 ... .6: verify(N) warm-up, verify(N), verify(2N), then the same for the limit.
        let counts = (1...6).compactMap { summary(out + ".\($0)") }
        guard counts.count == 6 else {
            SigilBench.progress("callgrind wrote no usable dumps; skipping instruction counts")
            return nil
        }
        return (Double(counts[2] - counts[1]) / Double(n), Double(counts[5] - counts[4]) / Double(n))
    }

    /// The `summary:` (or `totals:`) line of a callgrind dump: instructions executed.
    static func summary(_ path: String) -> Int? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("summary:") || line.hasPrefix("totals:") {
            return line.split(separator: " ").dropFirst().first.flatMap { Int($0) }
        }
        return nil
    }

    /// This process's executable (`/proc/self/exe` itself would name objcopy's, in objcopy).
    static func executablePath() -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        return n > 0
            ? String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : CommandLine.arguments[0]
    }

    static func findValgrind() -> String? {
        let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/valgrind" }.first { access($0, X_OK) == 0 }
    }

    struct SmallFixture {
        let verifier: Verifier
        let token: String
        let now: Int64
        let hmac: OpaquePointer
        let body: [UInt8]
        let tag: [UInt8]

        init() throws {
            now = Verifier.unixNow()
            let key = try TokenMinter.audienceKey(
                masterSecret: Fixture.testOnlyMasterSecret, audience: Fixture.audience)
            var random = SplitMix64(seed: 0x5167_12)
            let claims = try TokenClaims(
                keyID: Fixture.keyID, audience: Fixture.audience, id: Fixture.randomTokenID(&random),
                validFrom: now - 3_600, validTo: now + 86_400, scope: .all)
            token = try TokenMinter.mint(claims, audienceKey: key)
            let entries = (0..<1_024).map { _ in (Fixture.randomTokenID(&random), RevocationStatus.revoked) }
            let list = try RevocationListBuilder.build(
                entries: entries, sequence: 1, issuedAt: now, nextUpdate: now + 86_400,
                keyID: Fixture.revocationKeyID, seed: Fixture.testOnlyRevocationSeed)
            var publicKey = [UInt8](repeating: 0, count: 32)
            guard bench_ed25519_public(Fixture.testOnlyRevocationSeed, &publicKey) == 1 else {
                throw BenchError("OpenSSL could not derive the Ed25519 public key")
            }
            let store = RevocationStore(keys: [try RevocationKey(keyID: Fixture.revocationKeyID, publicKey: publicKey)])
            try store.load(bytes: list)
            verifier = try Verifier(
                audience: Fixture.audience, keys: [try TokenKey(keyID: Fixture.keyID, key: key)], revocations: store)
            guard let decoded = Base64URL.decode(token.dropFirst(TokenClaims.prefix.count)),
                let hmac = bench_hmac_new(key, key.count)
            else { throw BenchError("could not prepare the C limit") }
            body = Array(decoded.dropLast(TokenClaims.tagLength))
            tag = Array(decoded.suffix(TokenClaims.tagLength))
            self.hmac = hmac
        }
    }

    @inline(never)
    static func callgrindVerifyLoop(_ f: SmallFixture, _ count: Int) -> UInt64 {
        var folded: UInt64 = 0
        for _ in 0..<count {
            do {
                folded &+= UInt64(truncatingIfNeeded: try f.verifier.verify(f.token, for: nil, at: f.now).validFrom)
            } catch {
                fatalError("verify failed: \(error)")
            }
        }
        return folded
    }

    @inline(never)
    static func callgrindLimitLoop(_ f: SmallFixture, _ count: Int) -> UInt64 {
        let matched = bench_hmac_limit_loop(f.hmac, f.body, f.body.count, f.tag, count)
        precondition(matched == count, "the C limit loop failed or its tag did not match")
        return UInt64(matched)
    }
}
