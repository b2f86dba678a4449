import Hummingbird
import Logging
import SigilHummingbird
import SigilVerifier

// README's SigilHummingbird snippet, compiled; ReadmeTests checks the text is the same.

enum Routes {
    static let deleteDevice = Permission(literal: "devices.delete", access: .write)
}

func readmeHummingbirdService(logger: Logger) async throws {
    let sigil = try VerifierService(
        keysetPath: "/etc/devices/keyset.json", revocationsPath: "/etc/devices/revocations.sgl",
        whenNoList: .failClosed)
    let router = Router(context: BasicSigilRequestContext.self)
    router.requiring(Routes.deleteDevice, verifier: sigil.verifier).delete("devices/:id") { _, context in
        let token = try context.requireToken()
        context.logger.info("delete by \(token.id)")
        return HTTPResponse.Status.noContent
    }
    // Either follow sigil-server (a revoke is enforced here within about a second) …
    let follower = RevocationFollower(
        server: "https://issuer.example/v1/revocations", store: sigil.revocations, logger: logger)
    // … or watch the file instead: `services: [sigil.lifecycleService]`.
    let app = Application(router: router, services: [follower], logger: logger)
    try await app.runService()
}
