import Hummingbird
import Logging
import SigilHummingbird
import SigilVerifier

// Every usage example in SigilHummingbird's doc comments, verbatim, so that each compiles;
// ReadmeTests checks that every ```swift block in Sources/SigilHummingbird appears here.

struct AppContext: SigilRequestContext {
    var coreContext: CoreRequestContextStorage
    var token: VerifiedToken?
    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        token = nil
    }
}

func requireTokenExample(router: Router<BasicSigilRequestContext>, verifier: Verifier) {
    router.requiring(.listDevices, verifier: verifier).get("devices") { _, context in
        "hello \(try context.requireToken().id)"
    }
}

func basicContextExample() -> Router<BasicSigilRequestContext> {
    let router = Router(context: BasicSigilRequestContext.self)
    return router
}

func challengeExample(error: VerificationError) -> Response {
    let refusal = SigilChallenge(refusal: error, permission: .listDevices)
    return refusal.response()
}

func middlewareExample(router: Router<BasicSigilRequestContext>, verifier: Verifier) {
    router.group()
        .add(middleware: SigilBearerMiddleware(verifier: verifier, requiring: .deleteDevice))
        .delete("devices/:id") { _, _ in HTTPResponse.Status.noContent }
}

func credentialsExample(request: Request) -> SigilBearerMiddleware<BasicSigilRequestContext>.Credentials {
    SigilBearerMiddleware<BasicSigilRequestContext>.credentials(in: request.headers)
}

/// Stands in for the example service's device store.
struct DeviceList: Sendable {
    let all: String
}

func requiringExample(router: Router<BasicSigilRequestContext>, verifier: Verifier, devices: DeviceList) {
    router.requiring(.listDevices, verifier: verifier).get("devices") { _, _ in devices.all }
    router.requiring(.deleteDevice, verifier: verifier).delete("devices/:id") { _, _ in
        HTTPResponse.Status.noContent
    }
}

func followerExample(router: Router<BasicSigilRequestContext>, logger: Logger) async throws {
    let sigil = try VerifierService(
        keysetPath: "keyset.json", revocationsPath: "revocations.sgl",
        whenNoList: .failClosed)
    let follower = RevocationFollower(
        server: "https://issuer.example/v1/revocations",
        store: sigil.revocations, logger: logger)
    let app = Application(router: router, services: [follower])
    try await app.runService()
}

func offerExample(follower: RevocationFollower, bytes: [UInt8]) {
    if case .refused(let error) = follower.offer(bytes) { print(error.reason) }
}

func lifecycleServiceExample(router: Router<BasicSigilRequestContext>) throws {
    let sigil = try VerifierService(
        keysetPath: "keyset.json", revocationsPath: "revocations.sgl",
        whenNoList: .failClosed)
    let app = Application(router: router, services: [sigil.lifecycleService])
    _ = app
}
