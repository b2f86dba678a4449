import SigilIssuer
import SigilVerifier
import Testing

@Suite("Smoke")
struct SmokeTests {
    @Test("A minted token verifies and a flipped one does not")
    func roundTrip() throws {
        let secret = [UInt8](repeating: 7, count: 32)
        let claims = try TokenClaims(
            keyID: "k1", audience: "billing", id: TokenMinter.newTokenID(), validFrom: 1000, validTo: 5000,
            scope: .custom(["devices.list", "users.get"]))
        let token = try TokenMinter.mint(claims, masterSecret: secret)
        let key = try TokenMinter.audienceKey(masterSecret: secret, audience: "billing")
        let verifier = try Verifier(audience: "billing", keys: [TokenKey(keyID: "k1", key: key)])
        let verified = try verifier.verify(token, for: Permission("devices.list", access: .read), at: 2000)
        #expect(verified.id == claims.id)
        #expect(try verifier.verifyClaims(token, at: 2000) == claims)
        let error = #expect(throws: VerificationError.self) {
            try verifier.verify(token, for: Permission("devices.delete", access: .write), at: 2000)
        }
        #expect(error?.reason == .scopeNotGranted)
    }
}
