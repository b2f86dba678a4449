public import Hummingbird
import SigilIssuer
import SigilVerifier

/// `GET /v1/catalog`: the resources and actions scopes are made of, for any valid token
/// (a console builds its scope picker from it).
public struct CatalogController: Sendable {
    let issuer: IssuerQueue

    public init(issuer: IssuerQueue) { self.issuer = issuer }

    public func addRoutes(to group: RouterGroup<ServerContext>) {
        group.get("catalog", use: show)
    }

    @Sendable func show(_ request: Request, context: ServerContext) async throws -> Response {
        _ = try context.authenticated
        let catalog = try await issuer.read { try $0.catalog() }
        let resources = catalog.resources.mapValues { actions in actions.mapValues { $0.rawValue } }
        return JSONResponse.make(["resources": resources])
    }
}
