import ArgumentParser
import Hummingbird
import Logging
import NIOCore
import SigilHummingbird
import SigilVerifier

/// An example Hummingbird service whose routes are protected by Sigil tokens, verified offline.
///
/// ```sh
/// devices-service --keyset devices.keyset.json --revocations revocations.sgl --port 8080
/// curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/devices
/// ```
@main
struct DevicesService: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devices-service",
        abstract: "An example device API whose routes require Sigil tokens.",
        discussion: """
            Routes: GET /devices (devices.list, read), GET /devices/:id (devices.get, read), \
            DELETE /devices/:id (devices.delete, write). Send the token as Authorization: Bearer sgl_….

            The revocation list is checked at start-up (a missing or forged list stops the \
            service) and then polled; a changed file is verified and swapped in without a restart. \
            Logs go to stderr and never contain tokens.
            """)

    @Option(help: ArgumentHelp("The keyset export for this service's audience (sigil keys export).", valueName: "path"))
    var keyset: String

    @Option(help: ArgumentHelp("The signed revocation list to watch (sigil revocations export).", valueName: "path"))
    var revocations: String

    @Option(help: "The address to listen on.")
    var hostname = "127.0.0.1"

    @Option(help: "The port to listen on; 0 picks a free one (the log says which).")
    var port = 8080

    @Option(
        name: .customLong("poll-interval"),
        help: ArgumentHelp("Seconds between checks of the revocation file.", valueName: "seconds"))
    var pollInterval = 2.0

    func validate() throws {
        guard (0...65_535).contains(port) else { throw ValidationError("--port must be 0...65535") }
        guard pollInterval >= 0.01, pollInterval <= 3_600 else {
            throw ValidationError("--poll-interval must be between 0.01 and 3600 seconds")
        }
    }

    func run() async throws {
        let logger = Logger(label: "devices-service")  // swift-log's default handler writes to stderr

        let keyset: Keyset
        do {
            keyset = try Keyset(contentsOf: self.keyset)
        } catch {
            throw StartupError("cannot load the keyset \(self.keyset): \(error)")
        }
        let store = RevocationStore(keys: keyset.revocationKeys) { event in Self.log(event, to: logger) }
        // Fail closed: a service that cannot read its revocation list would honour revoked tokens.
        do {
            try store.load(path: revocations)
        } catch {
            throw StartupError("cannot load the revocation list \(revocations): \(error)")
        }
        let verifier = try Verifier(keyset: keyset, revocations: store)
        // SigilHummingbird's follower: each changed file gets every check `sigil revocations pull`
        // makes before it replaces the list in force. (`server:` long-polls sigil-server instead.)
        let follower = RevocationFollower(
            file: revocations, store: store, interval: .milliseconds(Int64((pollInterval * 1000).rounded())),
            logger: logger)

        let router = Self.router(verifier: verifier, devices: .example())
        let hostname = self.hostname
        let port = self.port
        let audience = keyset.audience
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(hostname, port: port), serverName: "devices-service"),
            services: [follower],
            onServerRunning: { channel in
                logger.info(
                    "listening on http://\(hostname):\(channel.localAddress?.port ?? port)",
                    metadata: ["audience": "\(audience)"])
            },
            logger: logger)
        try await app.runService()
    }

    /// The routes, each in a group that names the permission it needs (SigilHummingbird's
    /// bearer middleware answers refusals per RFC 6750).
    static func router(verifier: Verifier, devices: DeviceStore) -> Router<BasicSigilRequestContext> {
        let router = Router(context: BasicSigilRequestContext.self)

        router.requiring(.listDevices, verifier: verifier)
            .get("devices") { _, _ in devices.all }

        router.requiring(.getDevice, verifier: verifier)
            .get("devices/:id") { _, context in
                guard let device = devices.device(id: try context.parameters.require("id")) else {
                    throw HTTPError(.notFound)
                }
                return device
            }

        router.requiring(.deleteDevice, verifier: verifier)
            .delete("devices/:id") { _, context -> HTTPResponse.Status in
                let id = try context.parameters.require("id")
                guard devices.remove(id: id) else { throw HTTPError(.notFound) }
                context.logger.info("deleted device", metadata: ["device": "\(id)"])
                return .noContent
            }

        return router
    }
}

extension DevicesService {
    /// Logs what happened to the store (to stderr, through swift-log's default handler).
    static func log(_ event: RevocationStore.Event, to logger: Logger) {
        switch event {
        case .loaded(let sequence, let count):
            logger.info("revocations loaded", metadata: ["sequence": "\(sequence)", "entries": "\(count)"])
        case .unchanged(let sequence):
            logger.debug("revocations unchanged", metadata: ["sequence": "\(sequence)"])
        case .refused(let error):
            logger.error(
                "revocations refused (the list in force, if any, stays)",
                metadata: ["reason": "\(error.reason.rawValue)", "detail": "\(error.detail)"])
        case .stale(let sequence, let nextUpdate):
            logger.warning(
                "revocations stale: past next_update, still serving",
                metadata: ["sequence": "\(sequence)", "next_update": "\(nextUpdate)"])
        }
    }
}

/// A reason the service cannot start, printed by ArgumentParser as `Error: …`.
struct StartupError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
