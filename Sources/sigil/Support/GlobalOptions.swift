import ArgumentParser
import Foundation
import SigilIssuer

/// Options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Home folder with keyring, ledger and catalog (default: $SIGIL_HOME, else ./keys).", valueName: "dir"))
    var home: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The ledger: postgres://… for a shared PostgreSQL database, or a SQLite file (default: $SIGIL_DATABASE, else <home>/sigil.db).",
            valueName: "url"))
    var database: String?

    @Flag(name: .long, help: "Print one JSON object (or array) on stdout for scripts.")
    var json = false

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Manage tokens through sigil-server at this URL instead of a home (default: $SIGIL_SERVER).",
            valueName: "url"))
    var server: String?

    @Option(
        name: .customLong("token-file"),
        help: ArgumentHelp(
            "With --server: a file (mode 600) holding the caller's token (default: $SIGIL_TOKEN_FILE).",
            valueName: "file"))
    var tokenFile: String?

    /// The server remote mode talks to: `--server`, else `$SIGIL_SERVER`; nil for local mode.
    var serverURL: String? {
        if let server { return server }
        if let env = ProcessInfo.processInfo.environment["SIGIL_SERVER"], !env.isEmpty { return env }
        return nil
    }

    /// `--database`, else `$SIGIL_DATABASE`, else nil (the home's SQLite file).
    var databaseURL: String? {
        if let database, !database.isEmpty { return database }
        if let env = ProcessInfo.processInfo.environment["SIGIL_DATABASE"], !env.isEmpty { return env }
        return nil
    }

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
            "Who the audit log names for this change (default: the OS user; \(ActorName.pattern)).",
            valueName: "name"))
    var actor: String?
}
