import ArgumentParser
import SigilIssuer

struct Init: ParsableCommand, SigilCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create a home with a development keyring and an example catalog.",
        discussion: """
            Creates the home folder (0700), keyring.json (0600) with one issuing key and one \
            revocation-list signing key, and the ledger database sigil.db (0600) with the example \
            catalog. `sigil issue` does this on first use; other commands need an existing home.

            Example:
              sigil --home /etc/sigil init
            """)

    static let serverUse = ServerUse.issuerHost(needs: "the issuer's secrets: it creates the home and its keyring")
    @OptionGroup var global: GlobalOptions

    func run() throws {
        try guarded(json: global.json) {
            let home = Home(global)
            let issuer = try home.issuer(.initialize)
            let ring = try issuer.keyring()
            if global.json {
                Console.json([
                    "home": home.path, "database": issuer.databasePath, "keyring": Keyring.path(home: home.path),
                    "kid": ring.activeKey.keyID,
                    "revocation_kid": ring.signingKey.keyID,
                ])
            }
        }
    }
}
