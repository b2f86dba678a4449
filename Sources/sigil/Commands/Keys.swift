import ArgumentParser
import Foundation
import SigilIssuer
import SigilVerifier

struct Keys: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage token keys and export service keysets.",
        discussion: """
            Rotation is add → distribute → promote: `add` creates a pending key that exported \
            keysets already carry but nothing issues with; after services load the new keyset, \
            `promote` makes it the issuing key. Older keys keep verifying until `retire`. \
            `rotate` does add + promote at once for a single-host setup.

            Examples:
              sigil keys add && sigil keys export --audience billing -o billing.keyset.json
              sigil keys promote k20261123-3fa9c1

            The revocation-list signing key rotates the same way: keys add --revocation, export \
            keysets (services then accept lists from both keys), keys promote RKID, and after the \
            next export keys retire the old RKID and export keysets again.
            """,
        subcommands: [
            KeysList.self, KeysAdd.self, KeysPromote.self, KeysRetire.self, KeysRotate.self, KeysExport.self,
        ],
        defaultSubcommand: KeysList.self)
}

func keyJSON(_ k: Keyring.TokenMasterKey) -> JSONObject {
    ["kid": k.keyID, "state": k.state.rawValue, "created_at": k.createdAt]
}

struct KeysList: ParsableCommand, SigilCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List token keys and the revocation signing key (never secrets).",
        discussion: """
            Example:
              sigil keys list --json
            """)
    static let serverUse = ServerUse.issuerHost(needs: ServerUse.secrets)
    @OptionGroup var global: GlobalOptions
    func run() throws {
        try guarded(json: global.json) {
            let ring = try Home(global).issuer().keyring()
            if global.json {
                Console.json([
                    "token_keys": ring.tokenKeys.map(keyJSON),
                    "revocation_keys": ring.revocationKeys.map { key -> JSONObject in
                        [
                            "kid": key.keyID, "public_key": Base64URL.encode(key.publicKey),
                            "created_at": key.createdAt, "state": (key.state ?? .verifying).rawValue,
                        ]
                    },
                ])
                return
            }
            let rows =
                ring.tokenKeys.map { [$0.keyID, "token", $0.state.rawValue, TimeText.format($0.createdAt)] }
                + ring.revocationKeys.map {
                    [
                        $0.keyID, "revocation-list",
                        $0.state == .active ? "signing" : ($0.state ?? .verifying).rawValue,
                        TimeText.format($0.createdAt),
                    ]
                }
            Console.out(table(header: ["KID", "USE", "STATE", "CREATED"], rows: rows))
        }
    }
}

/// Runs a key change through the issuer and reports the keyring after it.
func changeKeyring(
    _ global: GlobalOptions, _ actorOption: ActorOption, _ change: (Issuer, Actor) throws -> String
) throws {
    try guarded(json: global.json) {
        let home = Home(global, actor: actorOption)
        let actor = try home.actor()
        let issuer = try home.issuer()
        let message = try change(issuer, actor)
        if global.json {
            Console.json(["token_keys": try issuer.keyring().tokenKeys.map(keyJSON), "message": message] as JSONObject)
        } else {
            Console.note(message)
        }
    }
}

struct KeysAdd: ParsableCommand, SigilCommand {
    static let configuration = CommandConfiguration(
        commandName: "add", abstract: "Add a pending token key (exported, not yet issuing).",
        discussion: """
            With --revocation, adds a pending revocation-list signing key instead: keysets carry \
            its public key at once, so services accept lists it signs once they load them; lists \
            are still signed by the current key until you promote the new one.

            Examples:
              sigil keys add && sigil keys export --audience billing -o billing.keyset.json
              sigil keys add --revocation
            """)
    static let serverUse = ServerUse.issuerHost(needs: ServerUse.secrets)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var actorOption: ActorOption
    @Flag(help: "Add a revocation-list signing key instead of a token key.") var revocation = false
    func run() throws {
        try changeKeyring(global, actorOption) { issuer, actor in
            let key = try issuer.addKey(revocation: revocation, by: actor, now: Home.now)
            return
                "Added pending \(revocation ? "revocation-list " : "")key \(key). Export keysets to services, then: sigil keys promote \(key)"
        }
    }
}

struct KeysPromote: ParsableCommand, SigilCommand {
    static let configuration = CommandConfiguration(
        commandName: "promote", abstract: "Make a pending key the issuing key.",
        discussion: """
            Promote only after every service has loaded a keyset that carries the key.

            Example:
              sigil keys promote k20261123-3fa9c1
            """)
    static let serverUse = ServerUse.issuerHost(needs: ServerUse.secrets)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var actorOption: ActorOption
    @Argument(help: ArgumentHelp("The key id.", valueName: "kid")) var kid: String
    func run() throws {
        try changeKeyring(global, actorOption) { issuer, actor in
            guard let previous = try issuer.promoteKey(kid, by: actor, now: Home.now) else {
                return "\(kid) is already the issuing key; nothing changed."
            }
            if try issuer.keyring().revocationKeys.contains(where: { $0.keyID == kid }) {
                return
                    "\(kid) now signs revocation lists; services keep accepting \(previous)'s until: sigil keys retire \(previous)"
            }
            return "\(kid) now issues new tokens; \(previous) keeps verifying until: sigil keys retire \(previous)"
        }
    }
}

struct KeysRetire: ParsableCommand, SigilCommand {
    static let configuration = CommandConfiguration(
        commandName: "retire",
        abstract: "Retire a key: its tokens become unknown_key once services load the new keyset.",
        discussion: """
            The key's secret is destroyed, so this cannot be undone: it asks on a terminal unless \
            --yes. The issuing key cannot be retired.

            Example:
              sigil keys retire --yes k20261001-77aa01
            """)
    static let serverUse = ServerUse.issuerHost(needs: ServerUse.secrets)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var actorOption: ActorOption
    @Argument(help: ArgumentHelp("The key id.", valueName: "kid")) var kid: String
    @Flag(name: [.customShort("y"), .long], help: "Do not ask for confirmation.") var yes = false
    func run() throws {
        try changeKeyring(global, actorOption) { issuer, actor in
            try confirm("Retire key \(Terminal.safe(kid)) and destroy its secret?", yes: yes)
            try issuer.retireKey(kid, by: actor, now: Home.now)
            return "Retired \(kid) and destroyed its secret. Export keysets again so services drop it."
        }
    }
}

struct KeysRotate: ParsableCommand, SigilCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate", abstract: "Add a key and promote it at once (single-host setups).",
        discussion: """
            With --revocation, rotates the revocation-list signing key: services must load a \
            keyset that carries the new key before they accept its lists, so prefer add, export, \
            promote when services are elsewhere.

            Examples:
              sigil keys rotate
              sigil keys rotate --revocation
            """)
    static let serverUse = ServerUse.issuerHost(needs: ServerUse.secrets)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var actorOption: ActorOption
    @Flag(help: "Rotate the revocation-list signing key instead of the token key.") var revocation = false
    func run() throws {
        try changeKeyring(global, actorOption) { issuer, actor in
            let (key, previous) = try issuer.rotateKey(revocation: revocation, by: actor, now: Home.now)
            return revocation
                ? "\(key) now signs revocation lists; services keep accepting \(previous)'s until you retire it and export keysets again."
                : "\(key) now issues new tokens; \(previous) keeps verifying until retired."
        }
    }
}

struct KeysExport: ParsableCommand, SigilCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write the keyset one service needs (its audience's keys; never a master secret).",
        discussion: """
            The keyset holds K_aud = HKDF(master, "sigil/v1/token" 0 audience) for every pending \
            and active key, and the revocation-list public keys. It is a secret for that audience: \
            it is written 0600.

            Example:
              sigil keys export --audience billing -o /etc/billing/keyset.json
            """)
    static let serverUse = ServerUse.issuerHost(needs: ServerUse.secrets)
    @OptionGroup var global: GlobalOptions
    @Option(help: "The service's audience.") var audience: String
    @Option(name: .shortAndLong, help: ArgumentHelp("Write here (0600) instead of stdout.", valueName: "file"))
    var output: String?
    func run() throws {
        try guarded(json: global.json) {
            var bytes = try Home(global).issuer().keyset(audience: audience).json()
            bytes.append(0x0a)
            if let output {
                try SecureFile.writeAtomically(bytes, to: output)
                Console.note(
                    "Wrote the keyset for \(audience) to \(output) (0600). Install it on the \(audience) service only.")
            } else {
                FileHandle.standardOutput.write(Data(bytes))
            }
        }
    }
}
