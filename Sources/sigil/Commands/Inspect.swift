import ArgumentParser
import Foundation
import SigilIssuer
import SigilVerifier

struct Inspect: ParsableCommand, SigilCommand {
    static let configuration = CommandConfiguration(
        abstract: "Decode a token's claims; marked unverified unless the keyring verifies its tag.",
        discussion: """
            Shows key id, GUID, audience, window and scope, and what the ledger knows (name, \
            status). The claims are trustworthy only if the output says the signature is verified.

            Example:
              echo "$TOKEN" | sigil inspect -
            """)

    static let serverUse = ServerUse.offline
    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The token, or - to read it from stdin (default).", valueName: "token"))
    var token: String?

    func run() throws {
        try guarded(json: global.json) {
            let home = Home(global)
            let text: String
            let claims: TokenClaims
            do {
                text = try readToken(token)
                claims = try TokenClaims.decodeUnverified(text)
            } catch let error as VerificationError {
                throw CLIFailure(Exit.code(for: error.reason), error.description, reason: error.reason.rawValue)
            }
            // Inspecting must not create a keyring: without one the claims are simply unverified.
            var signature = "unverified (no keyring in \(home.path))"
            var record: TokenRecord?
            if let ring = try existingKeyring(home) {
                let identity = try home.issuer().identify(text, keyring: ring)
                switch identity.failure {
                case .none:
                    signature = "verified with key \(claims.keyID)"
                case .some(.unknownKey) where ring.tokenKey(claims.keyID)?.state == .retired:
                    signature = "unverified (key \(claims.keyID) is retired: services refuse it as unknown_key)"
                case .some(.unknownKey):
                    signature = "unverified (key \(claims.keyID) is not in this keyring)"
                case .some(let reason):
                    signature = "INVALID (\(reason.rawValue)): do not trust these claims"
                }
                record = identity.record
            }
            let verified = signature.hasPrefix("verified")
            if global.json {
                var o: JSONObject = [
                    "verified": verified, "signature": signature, "kid": claims.keyID, "guid": claims.id.description,
                    "audience": claims.audience, "valid_from": claims.validFrom,
                    "valid_to": claims.validTo, "scope": WireScope(claims.scope),
                ]
                // The row as show and list write it.
                if let record { o["ledger"] = WireToken(record) }
                Console.json(o)
                return
            }
            var lines = [
                "signature  \(signature)",
                "guid       \(claims.id)",
                "audience   \(claims.audience)",
                "key        \(claims.keyID)",
                "valid      \(TimeText.formatDate(claims.validFrom)) → \(TimeText.formatDate(claims.validTo))",
                "scope      \(claims.scope.summary)",
            ]
            if let record {
                lines.append("name       \(record.name)")
                lines.append("status     \(record.isDeleted ? "deleted" : record.status.rawValue)")
            }
            Console.out(lines.joined(separator: "\n"))
        }
    }
}
