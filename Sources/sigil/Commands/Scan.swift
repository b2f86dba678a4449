import ArgumentParser
import Foundation
import SigilIssuer
import SigilVerifier

#if canImport(Glibc)
    import Glibc
#endif

struct Scan: ParsableCommand, SigilCommand {
    static let configuration = CommandConfiguration(
        abstract: "Find Sigil tokens in files, folders or stdin; print where, never the token.",
        discussion: """
            A token is found by its sgl_ prefix and a strict parse of its structure, so a match \
            is almost never a false positive, even without a key. With the home's keyring, each \
            match is also checked: `active`, `inactive`, `revoked`, `deleted`, `expired` or \
            `not in ledger` for this issuer's tokens; `forged` when the tag does not verify; \
            `other issuer` when the key ID is not in the keyring. Without a home every match is \
            `unverified`.

            Folders are walked without following symbolic links. Each line shows the file, line \
            and column, the GUID and the status: the token itself is never printed.

            Exit codes: 0 no token found, 1 tokens found, 64 usage, 66 a path does not exist.
            For one that leaked: sigil revoke --token - < file-holding-the-token

            Example:
              sigil scan . --json
              git diff --cached | sigil scan -
            """)

    static let serverUse = ServerUse.offline
    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("Files or folders to scan, or - for stdin.", valueName: "path"))
    var paths: [String] = []

    struct Match {
        let path: String
        let finding: TokenScanner.Finding
        let status: String
        let verified: Bool?
        let name: String?
    }

    func validate() throws {
        guard !paths.isEmpty else { throw ValidationError("give at least one file or folder to scan, or - for stdin") }
    }

    func run() throws {
        var found = 0
        try guarded(json: global.json) {
            let home = Home(global)
            // Scanning must not create a home: without a keyring, matches are unverified.
            let ring = try existingKeyring(home)
            let issuer: (Issuer, Keyring)? = try ring.map { (try home.issuer(), $0) }
            for path in paths where path != "-" {
                var st = stat()
                guard lstat(path, &st) == 0 else {
                    throw CLIFailure(Exit.noInput, "no file or folder at \(path)", reason: "not_found")
                }
            }
            let progress = ProgressLine.forCommand("scan", json: global.json)
            defer { progress.finish() }
            var walk = Walk()
            if progress.isEnabled {
                // A first pass over the tree's metadata gives the total the line counts down.
                walk.progress = progress
                walk.total = paths.reduce(0) { $0 + walk.countBytes($1) }
            }
            var matches: [Match] = []
            for path in paths {
                walk.scan(path) { path, finding in
                    matches.append(identify(path, finding, issuer))
                }
            }
            progress.finish()
            found = matches.count
            render(matches, walk)
        }
        if found > 0 { throw ExitCode(1) }
    }

    private func identify(_ path: String, _ finding: TokenScanner.Finding, _ issuer: (Issuer, Keyring)?) -> Match {
        guard let (issuer, ring) = issuer else {
            return Match(path: path, finding: finding, status: "unverified", verified: nil, name: nil)
        }
        guard let identity = try? issuer.identify(finding.text, keyring: ring) else {
            return Match(path: path, finding: finding, status: "unverified", verified: nil, name: nil)
        }
        switch identity.failure {
        case .some(.unknownKey):
            return Match(path: path, finding: finding, status: "other issuer", verified: false, name: nil)
        case .some:
            return Match(path: path, finding: finding, status: "forged", verified: false, name: nil)
        case .none:
            guard let record = identity.record else {
                return Match(path: path, finding: finding, status: "not in ledger", verified: true, name: nil)
            }
            let status =
                record.isDeleted
                ? "deleted"
                : record.status == .active && record.hasExpired(at: Home.now) ? "expired" : record.status.rawValue
            return Match(path: path, finding: finding, status: status, verified: true, name: record.name)
        }
    }

    private func render(_ matches: [Match], _ walk: Walk) {
        if global.json {
            Console.json(
                [
                    "found": matches.count, "files_scanned": walk.files, "unreadable": walk.unreadable,
                    "findings": matches.map { m -> JSONObject in
                        var o: JSONObject = [
                            "path": m.path, "line": m.finding.line, "column": m.finding.column,
                            "guid": m.finding.claims.id.description, "kid": m.finding.claims.keyID,
                            "audience": m.finding.claims.audience, "status": m.status,
                            "verified": m.verified,
                        ]
                        if let name = m.name { o["name"] = name }
                        return o
                    },
                ] as JSONObject)
            return
        }
        for m in matches {
            let name = m.name.map { "  " + Terminal.safe($0) } ?? ""
            Console.out(
                "\(Terminal.safe(m.path)):\(m.finding.line):\(m.finding.column)  \(m.finding.claims.id)  \(m.finding.claims.audience)  \(m.status)\(name)"
            )
        }
        Console.note(
            "sigil: \(matches.count) token\(matches.count == 1 ? "" : "s") found in \(walk.files) file\(walk.files == 1 ? "" : "s") scanned"
                + (walk.unreadable > 0 ? "; \(walk.unreadable) could not be read (see above)" : ""))
    }
}

/// Walks paths without following links and feeds each regular file to a scanner.
private struct Walk {
    var files = 0
    var unreadable = 0
    /// Where bytes read are reported, on a terminal; `total` is what ``countBytes(_:)`` found.
    var progress: ProgressLine?
    var total: Int64?
    private var bytesRead: Int64 = 0
    private var counted: Int64 = 0
    private var buffer = [UInt8](repeating: 0, count: 1 << 16)

    /// The bytes of the regular files under `path`, by the same rules as ``scan(_:_:)`` (no
    /// link followed, nothing read), reporting the files counted. What cannot be listed counts 0.
    mutating func countBytes(_ path: String) -> Int64 {
        var st = stat()
        guard path != "-", lstat(path, &st) == 0 else { return 0 }
        switch st.st_mode & S_IFMT {
        case S_IFDIR:
            guard let entries = try? FileManager.default.contentsOfDirectory(atPath: path) else { return 0 }
            return entries.reduce(0) { $0 + countBytes(path == "/" ? "/" + $1 : path + "/" + $1) }
        case S_IFREG:
            counted += 1
            progress?.update(WorkProgress(step: "counting files", done: counted, total: nil, unit: .files))
            return Int64(st.st_size)
        default:
            return 0
        }
    }

    mutating func scan(_ path: String, _ found: (String, TokenScanner.Finding) -> Void) {
        if path == "-" {
            files += 1
            scanDescriptor(STDIN_FILENO, "-", found)
            return
        }
        var st = stat()
        guard lstat(path, &st) == 0 else { return skip(path, errno) }
        switch st.st_mode & S_IFMT {
        case S_IFDIR:
            guard let entries = try? FileManager.default.contentsOfDirectory(atPath: path) else {
                return skip(path, EACCES)
            }
            for entry in entries.sorted() { scan(path == "/" ? "/" + entry : path + "/" + entry, found) }
        case S_IFREG:
            let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
            guard fd >= 0 else { return skip(path, errno) }
            defer { close(fd) }
            // Checked on the descriptor: the path may have been swapped for a FIFO since lstat.
            var opened = stat()
            guard fstat(fd, &opened) == 0, opened.st_mode & S_IFMT == S_IFREG else { return skip(path, EINVAL) }
            files += 1
            scanDescriptor(fd, path, found)
        default:
            break  // links, sockets, devices and FIFOs are not followed or read
        }
    }

    private mutating func scanDescriptor(_ fd: Int32, _ path: String, _ found: (String, TokenScanner.Finding) -> Void) {
        var scanner = TokenScanner()
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            if n < 0 { return skip(path, errno) }
            if n == 0 { break }
            scanner.feed(buffer[0..<n]) { found(path, $0) }
            bytesRead += Int64(n)
            // A file that grew since it was counted must not show more than 100%.
            progress?.update(
                WorkProgress(step: "reading", done: bytesRead, total: total.map { max($0, bytesRead) }, unit: .bytes))
        }
        scanner.finish { found(path, $0) }
    }

    private mutating func skip(_ path: String, _ code: Int32) {
        unreadable += 1
        Console.warning("cannot read \(Terminal.safe(path)): \(String(cString: strerror(code)))")
    }
}
