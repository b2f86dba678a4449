import SigilVerifier

enum Routes {
    static let deleteDevice = Permission(literal: "devices.delete", access: .write)
}

/// Once, at start-up. The value is Sendable: share it between requests.
func startSigil() throws -> VerifierService {
    let sigil = try VerifierService(
        keysetPath: "/etc/billing/keyset.json",  // sigil keys export --audience billing
        revocationsPath: "/etc/billing/revocations.sgl",  // kept current by sigil revocations pull
        whenNoList: .failClosed)  // refuse every token until the first list arrives
    sigil.start()  // or run `try await sigil.run()` in your service group
    return sigil
}

/// Per request. `verify` allocates nothing when the token is good.
func status(bearer: String, sigil: VerifierService) -> Int {
    do {
        let token = try sigil.verify(bearer, for: Routes.deleteDevice)
        print("token \(token.id) may delete devices")
        return 204
    } catch {
        return error.reason == .scopeNotGranted ? 403 : 401
    }
}
