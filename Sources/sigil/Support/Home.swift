import Foundation
import SigilIssuer
import SigilVerifier

/// The home folder and what lives in it, opened the way each command needs.
struct Home {
    let path: String

    init(_ options: GlobalOptions) { path = options.homePath }

    /// Unix seconds now; `SIGIL_NOW` overrides it so tests are deterministic.
    static var now: Int64 {
        if let text = ProcessInfo.processInfo.environment["SIGIL_NOW"], let value = Int64(text) { return value }
        return Int64(Date().timeIntervalSince1970)
    }

    var ledger: Ledger { Ledger(home: path) }

    /// Creates the home if needed and checks its permissions (see ``SecureFile/ensureHome(_:)``).
    func prepare() throws {
        if try SecureFile.ensureHome(path) {
            Console.note("sigil: tightened \(path) to mode 700: it holds secrets and only you should enter it")
        }
    }

    /// Takes the home's exclusive lock (creating the folder if needed).
    func lock(_ command: String) throws -> HomeLock {
        try prepare()
        return try HomeLock(home: path, command: command)
    }

    /// Loads the keyring, creating a development keyring and example catalog on first use.
    /// The caller holds the lock when `create` is true.
    func keyring(createIfMissing create: Bool = true) throws -> Keyring {
        try prepare()
        if !Keyring.exists(home: path) {
            guard create else {
                throw CLIFailure(Exit.noInput, "no keyring in \(path). Create one with: sigil --home \(path) init")
            }
            let ring = try createDevelopmentKeyring()
            return ring
        }
        return try Keyring.load(home: path)
    }

    /// Loads the keyring under the lock, creating it on first use. For commands that only read.
    func keyringCreatingUnderLock(_ command: String) throws -> Keyring {
        if Keyring.exists(home: path) {
            try prepare()
            return try Keyring.load(home: path)
        }
        let lock = try lock(command)
        defer { lock.unlock() }
        return try keyring()
    }

    @discardableResult
    func createDevelopmentKeyring() throws -> Keyring {
        let ring = Keyring.generate(now: Home.now)
        try ring.save(home: path)
        Console.note(
            "sigil: created a development keyring at \(Keyring.path(home: path)) (token key \(ring.activeKey.keyID), revocation key \(ring.signingKey.keyID)). Keep it private; it is git-ignored."
        )
        if !FileManager.default.fileExists(atPath: Catalog.path(home: path)) {
            try Catalog.example.save(home: path)
            Console.note(
                "sigil: wrote an example catalog to \(Catalog.path(home: path)) (devices, users, invoices); see: sigil catalog"
            )
        }
        return ring
    }

    func catalog() throws -> Catalog { try Catalog.load(home: path) }

    /// Loads the ledger and prints its warnings (a torn last record).
    func loadLedger() throws -> LedgerState {
        if FileManager.default.fileExists(atPath: path) { try prepare() }
        let state = try ledger.load()
        for warning in state.warnings { Console.warning(warning) }
        return state
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

/// The OS user, the default `--created-by`.
func currentUser() -> String {
    if let user = ProcessInfo.processInfo.environment["USER"], !user.isEmpty { return user }
    if let pw = getpwuid(getuid()), let name = pw.pointee.pw_name { return String(cString: name) }
    return "uid-\(getuid())"
}
