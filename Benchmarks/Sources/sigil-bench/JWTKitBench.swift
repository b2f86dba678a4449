import Foundation
import JWTKit

/// The claims of a JWT equivalent to a Sigil token: subject, audience, window, ID and scope.
struct EquivalentClaims: JWTPayload {
    var sub: SubjectClaim
    var aud: AudienceClaim
    var exp: ExpirationClaim
    var nbf: NotBeforeClaim
    var jti: IDClaim
    var scope: String

    /// What Sigil's verify checks too: the window and the audience.
    func verify(using algorithm: some JWTAlgorithm) async throws {
        try exp.verifyNotExpired()
        try nbf.verifyNotBefore()
        try aud.verifyIntendedAudience(includes: "billing")
    }
}

/// jwt-kit 5 HS256 verification through a `JWTKeyCollection` (an actor, so every verify is an `await`).
enum JWTKitBench {
    /// Signs one JWT with `key` (the same K_aud Sigil uses), then times `verify` in a loop inside one task.
    static func run(key: [UInt8], tokenID: String, repetitions: Int, iterations: Int) async throws -> [Double] {
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: key), digestAlgorithm: .sha256)
        let now = Date()
        let claims = EquivalentClaims(
            sub: SubjectClaim(value: "bench-token"), aud: AudienceClaim(value: ["billing"]),
            exp: ExpirationClaim(value: now.addingTimeInterval(30 * 86_400)),
            nbf: NotBeforeClaim(value: now.addingTimeInterval(-3_600)), jti: IDClaim(value: tokenID), scope: "all")
        let jwt = try await keys.sign(claims)
        let checked = try await keys.verify(jwt, as: EquivalentClaims.self)
        guard checked.jti.value == tokenID else { throw BenchError("jwt-kit returned other claims") }

        func loop(_ n: Int) async throws -> UInt64 {
            var folded: UInt64 = 0
            for _ in 0..<n {
                let payload = try await keys.verify(jwt, as: EquivalentClaims.self)
                folded &+= UInt64(payload.scope.utf8.count)
            }
            return folded
        }
        blackHole(try await loop(max(1, iterations / 10)))
        var samples: [Double] = []
        for _ in 0..<repetitions {
            let start = Measure.clock.now
            let folded = try await loop(iterations)
            let elapsed = Measure.clock.now - start
            blackHole(folded)
            samples.append(elapsed.nanoseconds / Double(iterations))
        }
        return samples
    }
}
