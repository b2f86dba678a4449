import ArgumentParser

/// A command that needs the issuer's home (its secrets or its database file), so it has no
/// remote mode: with `--server` or `SIGIL_SERVER` it refuses (64) before touching anything.
protocol IssuerHostCommand: ParsableCommand {
    var global: GlobalOptions { get }
    /// `keys list`, `revocations export`: the command as the user typed it.
    static var commandPath: String { get }
    /// Why it must run on the issuer host, completing "it needs …".
    static var needs: String { get }
}

/// A command that works offline and never talks to the issuer (`verify`, `inspect`,
/// `revocations pull|show`): an explicit `--server` or `--token-file` is refused as a
/// misunderstanding, while `SIGIL_SERVER` in the environment is no reason to stop it.
protocol OfflineCommand: ParsableCommand {
    var global: GlobalOptions { get }
    static var commandPath: String { get }
}

/// The refusal of `command` in the mode its options choose, or nil when it may run.
///
/// ```
/// $ sigil --server http://127.0.0.1:8080 keys rotate
/// sigil: error: sigil keys rotate needs the issuer's secrets (the keyring in its home), so it runs on the issuer host with --home, not with --server
/// ```
func remoteRefusal(for command: any ParsableCommand) -> (failure: CLIFailure, json: Bool)? {
    switch command {
    case let command as any IssuerHostCommand:
        let type = Swift.type(of: command)
        let global = command.global
        if global.serverURL != nil {
            let why = global.server == nil ? " (SIGIL_SERVER is set: unset it on the issuer host)" : ""
            return (
                CLIFailure.usage(
                    "sigil \(type.commandPath) needs \(type.needs), so it runs on the issuer host with --home, not with --server\(why)"
                ), global.json
            )
        }
        if global.tokenFile != nil {
            return (
                CLIFailure.usage("--token-file goes with --server URL: sigil \(type.commandPath) uses no token"),
                global.json
            )
        }
    case let command as any OfflineCommand:
        let type = Swift.type(of: command)
        let global = command.global
        if global.server != nil || global.tokenFile != nil {
            let flag = global.server != nil ? "--server" : "--token-file"
            return (
                CLIFailure.usage(
                    "sigil \(type.commandPath) works offline and never talks to the issuer: drop \(flag). (A service fetches the live revocation list with: sigil revocations pull URL/v1/revocations -o FILE)"
                ), global.json
            )
        }
    default:
        break
    }
    return nil
}

private let secrets = "the issuer's secrets (the keyring in its home)"

extension Init: IssuerHostCommand {
    static let commandPath = "init"
    static let needs = "the issuer's secrets: it creates the home and its keyring"
}
extension KeysList: IssuerHostCommand {
    static let commandPath = "keys list"
    static let needs = secrets
}
extension KeysAdd: IssuerHostCommand {
    static let commandPath = "keys add"
    static let needs = secrets
}
extension KeysPromote: IssuerHostCommand {
    static let commandPath = "keys promote"
    static let needs = secrets
}
extension KeysRetire: IssuerHostCommand {
    static let commandPath = "keys retire"
    static let needs = secrets
}
extension KeysRotate: IssuerHostCommand {
    static let commandPath = "keys rotate"
    static let needs = secrets
}
extension KeysExport: IssuerHostCommand {
    static let commandPath = "keys export"
    static let needs = secrets
}
extension RevocationsExport: IssuerHostCommand {
    static let commandPath = "revocations export"
    static let needs =
        "the issuer's revocation-list signing key (its secrets, in its home); sigil-server publishes lists itself"
}
extension LedgerCompact: IssuerHostCommand {
    static let commandPath = "ledger compact"
    static let needs = "the issuer's database file (in its home)"
}
extension CatalogAdd: IssuerHostCommand {
    static let commandPath = "catalog add"
    static let needs = "the issuer's home: the API has no route that changes the catalog"
}
extension Inspect: OfflineCommand { static let commandPath = "inspect" }
extension Verify: OfflineCommand { static let commandPath = "verify" }
extension RevocationsPull: OfflineCommand { static let commandPath = "revocations pull" }
extension RevocationsShow: OfflineCommand { static let commandPath = "revocations show" }
extension Scan: OfflineCommand {
    static let commandPath = "scan"
}
extension PolicyShow: IssuerHostCommand {
    static let commandPath = "policy show"
    static let needs = "the issuer's home: the API has no policy route yet (a refused issue names the policy)"
}
extension PolicySet: IssuerHostCommand {
    static let commandPath = "policy set"
    static let needs = "the issuer's home: the API has no route that changes policies"
}
extension PolicyClear: IssuerHostCommand {
    static let commandPath = "policy clear"
    static let needs = "the issuer's home: the API has no route that changes policies"
}
extension Expiring: IssuerHostCommand {
    static let commandPath = "expiring"
    static let needs = "the home's ledger (through the API: sigil list --status active --sort expires)"
}
