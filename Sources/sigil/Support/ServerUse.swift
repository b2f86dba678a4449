import ArgumentParser

/// How a command stands towards `--server` (remote mode).
///
/// Every command declares it (``SigilCommand/serverUse``); a command that says nothing needs
/// the issuer's home and refuses `--server` before it touches anything.
enum ServerUse: Sendable {
    /// The command needs what only the issuer host has; `needs` completes "it needs …".
    case issuerHost(needs: String)
    /// The command runs through an ``IssuerClient``: the home's issuer, or sigil-server.
    case remote
    /// The command works offline and never talks to an issuer (`verify`, `inspect`).
    case offline

    /// What a command that declares nothing needs.
    static let defaultNeeds = "the issuer's home (its keyring and its ledger)"
    /// Commands that read or change the keyring.
    static let secrets = "the issuer's secrets (the keyring in its home)"
}

/// A `sigil` subcommand: its options and where it can run.
protocol SigilCommand: ParsableCommand {
    /// The options every command takes (`--home`, `--server`, `--json` …).
    var global: GlobalOptions { get }
    /// Whether the command can run through sigil-server; by default it cannot.
    static var serverUse: ServerUse { get }
}

extension SigilCommand {
    static var serverUse: ServerUse { .issuerHost(needs: ServerUse.defaultNeeds) }
}

/// The refusal of `command` in the mode its options choose, or nil when it may run.
///
/// ```
/// $ sigil --server http://127.0.0.1:8080 --token-file t ledger migrate --to postgres://db/sigil
/// sigil: error: sigil ledger migrate needs the issuer's home: it copies the home's ledger, so it runs on the issuer host with --home, not with --server
/// ```
func remoteRefusal(for command: any ParsableCommand) -> CLIFailure? {
    // A group without a default subcommand only prints its help.
    guard let command = command as? any SigilCommand else { return nil }
    let type = Swift.type(of: command)
    let global = command.global
    let path = "sigil " + commandPath(of: type)
    switch type.serverUse {
    case .remote:
        return nil
    case .issuerHost(let needs):
        if global.serverURL != nil {
            let why = global.server == nil ? " (SIGIL_SERVER is set: unset it on the issuer host)" : ""
            return CLIFailure.usage(
                "\(path) needs \(needs), so it runs on the issuer host with --home, not with --server\(why)")
        }
        if global.tokenFile != nil {
            return CLIFailure.usage("--token-file goes with --server URL: \(path) uses no token")
        }
    case .offline:
        // SIGIL_SERVER in the environment is no reason to stop an offline check.
        if global.server != nil || global.tokenFile != nil {
            let flag = global.server != nil ? "--server" : "--token-file"
            return CLIFailure.usage(
                "\(path) works offline and never talks to the issuer: drop \(flag). (A service fetches the live revocation list with: sigil revocations pull URL/v1/revocations -o FILE)"
            )
        }
    }
    return nil
}

/// `keys list`: the words that run `type` under `sigil`, found in the root's configuration.
func commandPath(of type: any ParsableCommand.Type) -> String {
    func find(in parent: any ParsableCommand.Type, _ prefix: [String]) -> [String]? {
        for sub in parent.configuration.subcommands {
            let path = prefix + [sub._commandName]
            if ObjectIdentifier(sub) == ObjectIdentifier(type) { return path }
            if let found = find(in: sub, path) { return found }
        }
        return nil
    }
    return find(in: Sigil.self, [])?.joined(separator: " ") ?? type._commandName
}
