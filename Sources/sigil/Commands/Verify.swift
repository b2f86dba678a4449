import ArgumentParser
import Foundation
import SigilIssuer
import SigilVerifier

struct Verify: ParsableCommand, SigilCommand {
    static let configuration = CommandConfiguration(
        abstract: "Verify a token as a service would, offline.",
        discussion: """
            Uses the home keyring by default, or only an exported keyset with --keys (what a \
            service holds). Pass - (or nothing) to read the token from stdin: that keeps it out of \
            the process list and shell history.

            Exit codes: 0 valid; 10 malformed, 11 wrong_audience, 12 unknown_key, 13 bad_signature, \
            14 revoked, 15 deactivated, 16 not_yet_valid, 17 expired, 18 scope_not_granted, \
            19 revocations_stale.

            Examples:
              echo "$TOKEN" | sigil verify - --audience billing --permission devices.delete --access write
              sigil verify - --audience billing --keys billing.keyset.json --revocations revocations.sgl --json < token.txt
              sigil verify - --audience billing --revocations revocations.sgl --fail-if-stale < token.txt
            """)

    static let serverUse = ServerUse.offline
    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The token, or - to read it from stdin (default).", valueName: "token"))
    var token: String?

    @Option(help: "The audience of the service verifying.")
    var audience: String

    @Option(help: ArgumentHelp("A permission the request needs.", valueName: "resource.action"))
    var permission: String?

    @Option(help: "Whether the permission reads or writes (default: from the catalog).")
    var access: String?

    @Option(help: ArgumentHelp("Verify with only this keyset export instead of the keyring.", valueName: "keyset.json"))
    var keys: String?

    @Option(help: ArgumentHelp("Check a signed revocation list.", valueName: "file"))
    var revocations: String?

    @Option(help: ArgumentHelp("Verify as of this time instead of now.", valueName: "time"))
    var at: String?

    @Flag(
        name: .customLong("fail-if-stale"),
        help: "Refuse every token (exit 19) when the revocation list is past its next_update.")
    var failIfStale = false

    @Option(help: "Clock-skew leeway in seconds.")
    var leeway: Int64 = Verifier.defaultLeeway

    func run() throws {
        var exitCode: Int32 = 0
        try guarded(json: global.json) {
            let home = Home(global)
            _ = try Audience(audience)
            guard (0...86_400).contains(leeway) else {
                throw CLIFailure.usage("--leeway must be 0...86400 seconds (got \(leeway))")
            }
            let now =
                try at.map { text -> Int64 in
                    guard let t = TimeText.parseTime(text) else {
                        throw CLIFailure.usage("--at '\(text)': \(TimeText.accepted)")
                    }
                    return t
                } ?? Home.now
            let (tokenKeys, revocationKeys) = try loadKeys(home)
            let wanted = try requestedPermission(home)
            var source: RevocationStore? = nil
            if let revocations {
                let store = RevocationStore(keys: revocationKeys, stalePolicy: failIfStale ? .failClosed : .keepServing)
                let list = try store.load(path: revocations)
                if !failIfStale, list.isStale(at: now), let next = list.nextUpdate {
                    Console.warning(
                        "\(revocations) is past its next_update (\(TimeText.format(next))): newer revocations may be missing. Pull a fresh list, or pass --fail-if-stale to refuse."
                    )
                }
                source = store
            } else if failIfStale {
                throw CLIFailure.usage("--fail-if-stale needs --revocations FILE")
            }
            let verifier = try Verifier(audience: audience, keys: tokenKeys, leeway: leeway, revocations: source)
            var text = ""
            do {
                // Inside the do: an over-long stdin line is reported like any malformed token.
                text = try readToken(token)
                let claims = try verifier.verifyClaims(text, for: wanted, at: now)
                if global.json {
                    Console.json(
                        [
                            "valid": true, "reason": nil, "guid": claims.id.description, "audience": claims.audience,
                            "kid": claims.keyID, "valid_from": claims.validFrom, "valid_to": claims.validTo,
                            "scope": WireScope(claims.scope),
                        ] as JSONObject)
                } else {
                    Console.out("valid")
                    Console.note(
                        "guid \(claims.id), audience \(claims.audience), scope \(claims.scope.summary), expires \(TimeText.formatDate(claims.validTo))"
                    )
                }
            } catch let error as VerificationError {
                exitCode = Exit.code(for: error.reason)
                // The GUID is reported only once the MAC matched; before that it is attacker-controlled.
                let trusted = ![.malformed, .wrongAudience, .unknownKey, .badSignature].contains(error.reason)
                let guid = trusted ? (try? TokenClaims.decodeUnverified(text))?.id.description : nil
                if global.json {
                    Console.json(
                        [
                            "valid": false, "reason": error.reason.rawValue, "guid": guid, "message": error.description,
                        ] as JSONObject)
                } else {
                    Console.out("invalid: \(error.reason.rawValue)")
                    Console.note(error.description)
                }
            }
        }
        if exitCode != 0 { throw ExitCode(exitCode) }
    }

    private func loadKeys(_ home: Home) throws -> ([TokenKey], [RevocationKey]) {
        if let keys {
            let keyset = try readKeyset(keys)
            guard keyset.audience == audience else {
                throw CLIFailure.usage(
                    "\(keys) is the keyset of audience \(keyset.audience), not \(audience); export one with: sigil keys export --audience \(audience)"
                )
            }
            return (keyset.tokenKeys, keyset.revocationKeys)
        }
        let ring = try home.issuer().keyring()
        let keyset = try ring.keyset(audience: audience)
        return (keyset.tokenKeys, keyset.revocationKeys)
    }

    private func requestedPermission(_ home: Home) throws -> Permission? {
        guard let permission else {
            if access != nil { throw CLIFailure.usage("--access needs --permission resource.action") }
            return nil
        }
        let mode: Access
        if let access {
            guard let a = Access(rawValue: access) else { throw CLIFailure.usage("--access must be read or write") }
            mode = a
        } else if let known = try? home.issuer().catalog().access(of: permission) {
            mode = known
        } else {
            throw CLIFailure.usage(
                "\(permission) is not in the catalog: say whether it reads or writes with --access read|write")
        }
        guard let p = Permission(permission, access: mode) else {
            throw CLIFailure.usage("--permission must be resource.action, each part [a-z][a-z0-9_-]{0,31}")
        }
        return p
    }
}
