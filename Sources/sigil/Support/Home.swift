import Foundation
import SigilIssuer
import SigilVerifier

/// The home folder, opened through the issuer's use-case layer.
struct Home {
    let path: String
    let database: String?
    let actorName: String?
    /// `--json`: no progress line then.
    let json: Bool

    init(_ options: GlobalOptions, actor: ActorOption? = nil) {
        path = options.homePath
        database = options.databaseURL
        actorName = actor?.actor
        json = options.json
    }

    /// Unix seconds now; `SIGIL_NOW` overrides it so tests are deterministic.
    static var now: Int64 {
        if let text = ProcessInfo.processInfo.environment["SIGIL_NOW"], let value = Int64(text) { return value }
        return Int64(Date().timeIntervalSince1970)
    }

    /// `SIGIL_LOCK_TIMEOUT` seconds, default 5: how long to wait for another process's write.
    static var busyTimeout: Double {
        guard let text = ProcessInfo.processInfo.environment["SIGIL_LOCK_TIMEOUT"], let value = Double(text),
            value.isFinite, value >= 0
        else { return 5 }
        return min(value, 3_600)
    }

    /// Opens the home's issuer and tells the user what opening it created or imported.
    func issuer(_ mode: Issuer.OpenMode = .existing) throws -> Issuer {
        // Opening a v0.1 home imports it: about 37 s for a million tokens.
        let progress = ProgressLine.forCommand("import", json: json)
        defer { progress.finish() }
        let issuer = try Issuer(
            home: path, database: database, mode: mode, busyTimeout: Home.busyTimeout, now: Home.now,
            progress: progress.handler)
        progress.finish()
        for note in issuer.setupNotes { Console.note(Home.describe(note)) }
        return issuer
    }

    static func describe(_ note: Issuer.SetupNote) -> String {
        switch note {
        case .tightenedHome(let path):
            "sigil: tightened \(path) to mode 700: it holds secrets and only you should enter it"
        case .createdKeyring(let path, let kid, let rkid):
            "sigil: created a development keyring at \(path) (token key \(kid), revocation key \(rkid)). Keep it private; it is git-ignored."
        case .wroteExampleCatalog(let resources):
            "sigil: wrote an example catalog (\(resources.joined(separator: ", "))); see: sigil catalog"
        case .importedLedger(let tokens, let sequence, let renamed, let torn):
            "sigil: imported the v0.1 ledger into the database: \(tokens) tokens, last list sequence \(sequence)"
                + (torn ? "; skipped a torn last record left by an interrupted write" : "")
                + (renamed.isEmpty ? "" : ". Kept the old files as \(renamed.joined(separator: ", "))")
        }
    }

    /// Who the audit log names for this command: `--actor`, else the OS user.
    func actor() throws -> Actor {
        if let actorName { return try Actor(name: actorName, field: "actor") }
        return try Actor(name: currentUser(), field: "actor")
    }
}

/// Reads a keyset export (`--keys`): a missing file is 66, a bad one 65, and both say how
/// to get a good one.
func readKeyset(_ path: String) throws -> Keyset {
    guard FileManager.default.fileExists(atPath: path) else {
        throw CLIFailure(
            Exit.noInput,
            "no keyset at \(path). Write one with: sigil keys export --audience AUDIENCE -o \(path)",
            reason: "not_found")
    }
    do {
        return try Keyset(contentsOf: path)
    } catch {
        throw CLIFailure(
            Exit.dataError,
            "\(error.message). Export it again with: sigil keys export --audience AUDIENCE -o \(path)",
            reason: "bad_keyset")
    }
}

/// The OS user, the default actor and `--created-by`: `$USER` or the password entry's name
/// when it is a valid actor name, else `uid-N` (a hostile `$USER` never reaches the ledger).
func currentUser() -> String {
    if let user = ProcessInfo.processInfo.environment["USER"], Actor.isValid(user) { return user }
    if let pw = getpwuid(getuid()), let raw = pw.pointee.pw_name {
        let name = String(cString: raw)
        if Actor.isValid(name) { return name }
    }
    return "uid-\(getuid())"
}
