import ArgumentParser
import Foundation

/// Options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Home folder with keyring, ledger and catalog (default: $SIGIL_HOME, else ./keys).", valueName: "dir"))
    var home: String?

    @Flag(name: .long, help: "Print one JSON object (or array) on stdout for scripts.")
    var json = false

    /// `--home`, else `$SIGIL_HOME`, else `./keys`.
    var homePath: String {
        if let home, !home.isEmpty { return home }
        if let env = ProcessInfo.processInfo.environment["SIGIL_HOME"], !env.isEmpty { return env }
        return "keys"
    }
}

/// `--actor`, taken by every command that changes the ledger.
struct ActorOption: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Who the audit log names for this change (default: the OS user; [A-Za-z0-9._@:-], 1-64).",
            valueName: "name"))
    var actor: String?
}
