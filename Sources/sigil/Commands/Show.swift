import ArgumentParser
import Foundation
import SigilIssuer
import SigilVerifier

struct Show: AsyncParsableCommand, SigilCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show one token's metadata.",
        discussion: """
            Example:
              sigil show 3f2a9c1e
            """)

    static let serverUse = ServerUse.remote
    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("A GUID or a unique prefix of at least 8 hex digits.", valueName: "guid"))
    var guid: String

    func run() async throws {
        try await guardedAsync(json: global.json) {
            guard guid != "-" else { throw CLIFailure.usage("show takes one GUID") }
            let t = try await issuerClient(global).token(guid)
            if global.json {
                Console.json(WireToken(t))
                return
            }
            Console.out(
                [
                    "name         \(Terminal.safe(t.name))",
                    "description  \(Terminal.safe(t.description))",
                    "guid         \(t.id)",
                    "audience     \(Terminal.safe(t.audience))",
                    "scope        \(Terminal.safe(t.scope.summary))",
                    "valid from   \(TimeText.format(t.validFrom))",
                    "expires      \(t.validTo.map(TimeText.format) ?? "never")",
                    "key          \(Terminal.safe(t.keyID))",
                    "status       \(t.status.rawValue)",
                    "created      \(TimeText.format(t.createdAt)) by \(Terminal.safe(t.createdBy))",
                    "updated      \(TimeText.format(t.updatedAt))",
                ].joined(separator: "\n") + (t.revokedAt.map { "\nrevoked      \(TimeText.format($0))" } ?? "")
                    + (t.parent.map { "\nparent       \($0)" } ?? ""))
        }
    }
}

struct Edit: AsyncParsableCommand, SigilCommand {
    static let configuration = CommandConfiguration(
        abstract: "Change a token's name or description (scope and window are sealed).",
        discussion: """
            Scope, audience and validity window are sealed into the token when it is issued: to \
            change them, issue a new token and revoke this one.

            Example:
              sigil edit 3f2a9c1e --name "CI deploy (prod)" --description "GitHub Actions"
            """)

    static let serverUse = ServerUse.remote
    @OptionGroup var global: GlobalOptions
    @OptionGroup var actorOption: ActorOption

    @Argument(help: ArgumentHelp("A GUID or a unique prefix of at least 8 hex digits.", valueName: "guid"))
    var guid: String

    @Option(help: "The new name.")
    var name: String?

    @Option(help: "The new description.")
    var description: String?

    // Accepted only to explain why they cannot be changed.
    @Option(name: .customLong("scope"), help: .hidden) var scope: [String] = []
    @Flag(name: .customLong("all"), help: .hidden) var all = false
    @Flag(name: .customLong("read-only"), help: .hidden) var readOnly = false
    @Option(name: .customLong("audience"), help: .hidden) var audience: String?
    @Option(name: .customLong("expires"), help: .hidden) var expires: String?
    @Option(name: .customLong("expires-in"), help: .hidden) var expiresIn: String?
    @Flag(name: .customLong("never-expires"), help: .hidden) var neverExpires = false
    @Option(name: .customLong("valid-from"), help: .hidden) var validFrom: String?

    func validate() throws {
        guard name != nil || description != nil || !sealedFields.isEmpty else {
            throw ValidationError("give --name and/or --description")
        }
    }

    /// The sealed fields the user asked to change, in the library's names.
    var sealedFields: [String] {
        var out: [String] = []
        if !scope.isEmpty || all || readOnly { out.append("scope") }
        if audience != nil { out.append("audience") }
        if validFrom != nil { out.append("valid_from") }
        if expires != nil || expiresIn != nil || neverExpires { out.append("valid_to") }
        return out
    }

    /// The sealed fields asked for, with their values as the API names them, for the server
    /// to refuse (422 `sealed_field`, exit 64) as the library does locally.
    var sealedBody: [String: JSONValue] {
        var body: [String: JSONValue] = [:]
        if all {
            body["scope"] = .string("all")
        } else if readOnly {
            body["scope"] = .string("read-only")
        } else if !scope.isEmpty {
            body["scope"] = .array(scope.map(JSONValue.string))
        }
        if let audience { body["audience"] = .string(audience) }
        if let validFrom { body["valid_from"] = .string(validFrom) }
        if let expires {
            body["valid_to"] = .string(expires)
        } else if let expiresIn {
            body["valid_to"] = .string(expiresIn)
        } else if neverExpires {
            body["valid_to"] = .null
        }
        return body
    }

    func run() async throws {
        try await guardedAsync(json: global.json) {
            guard guid != "-" else { throw CLIFailure.usage("edit takes one GUID") }
            let t = try await issuerClient(global, actor: actorOption).edit(
                guid, name: name, description: description, sealedFields: sealedFields, sealedBody: sealedBody)
            if global.json {
                Console.json(WireToken(t))
            } else {
                Console.note("Updated \(t.id) (\(Terminal.safe(t.name))).")
            }
        }
    }
}
