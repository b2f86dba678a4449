import ArgumentParser
import SigilIssuer

struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create a home with a development keyring and an example catalog.",
        discussion: """
            Creates the home folder (0700), keyring.json (0600) with one issuing key and one \
            revocation-list signing key, and catalog.json. Other commands do this on first use.

            Example:
              sigil --home /etc/sigil init
            """)

    @OptionGroup var global: GlobalOptions

    func run() throws {
        try guarded(json: global.json) {
            let home = Home(global)
            let lock = try home.lock("init")
            defer { lock.unlock() }
            if Keyring.exists(home: home.path) {
                let ring = try Keyring.load(home: home.path)
                throw CLIFailure(
                    Exit.dataError,
                    "a keyring already exists at \(Keyring.path(home: home.path)) (issuing key \(ring.activeKey.keyID)); nothing changed. Use sigil keys rotate to change keys.",
                    reason: "exists")
            }
            let ring = try home.createDevelopmentKeyring()
            if global.json {
                Console.json([
                    "home": home.path, "keyring": Keyring.path(home: home.path), "kid": ring.activeKey.keyID,
                    "revocation_kid": ring.signingKey.keyID,
                ])
            }
        }
    }
}
