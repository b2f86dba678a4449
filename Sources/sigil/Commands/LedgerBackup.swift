import ArgumentParser
import Foundation
import SigilIssuer

struct LedgerBackup: ParsableCommand, SigilCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Copy the ledger into a new file, safely while sigil-server and other commands write.",
        discussion: """
            The copy is SQLite's online backup, taken as one snapshot: it holds every change \
            committed before the command began. FILE is created mode 600 and never replaces \
            anything (an existing file or link there is refused, 73); it is fsynced, then opened \
            again and checked (integrity, schema) before the command succeeds. A PostgreSQL \
            ledger is backed up with pg_dump instead (64; docs/DATABASE.md, Backups).

            The keyring is not in the backup: back up keyring.json apart (docs/DEPLOY.md).

            Example:
              sigil ledger backup --to /backup/sigil-$(date +%F).db
            """)
    static let serverUse = ServerUse.issuerHost(needs: "the issuer's home: it copies the home's ledger")
    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: ArgumentHelp("The new backup file (never replaced).", valueName: "file"))
    var to: String

    func run() throws {
        try guarded(json: global.json) {
            let issuer = try Home(global).issuer()
            let progress = ProgressLine.forCommand("backup", json: global.json)
            defer { progress.finish() }
            let backup = try issuer.backupLedger(to: to, progress: progress.handler)
            progress.finish()
            if global.json {
                Console.json(
                    [
                        "path": backup.path, "bytes": Int(backup.bytes), "tokens": backup.tokens,
                        "events": backup.events, "sequence": Int(clamping: backup.sequence),
                        "schema_version": backup.schemaVersion, "checked": true,
                    ] as JSONObject)
            } else {
                Console.note(
                    "Backed up \(backup.tokens) tokens and \(backup.events) events (list sequence \(backup.sequence)) to \(Terminal.safe(backup.path)): \(ProgressLine.amount(backup.bytes, .bytes)), checked."
                )
                Console.note("The keyring is not in it: keep keyring.json in its own, more closely guarded backup.")
            }
        }
    }
}

struct LedgerRestore: ParsableCommand, SigilCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Restore a ledger backup into a home without a ledger; lists continue above every sequence seen.",
        discussion: """
            The backup is checked (integrity, a Sigil schema this version knows, every row) and \
            written as the home's sigil.db (or --database PATH). A home that already has a \
            ledger is refused (65) and left as it was: move sigil.db aside first, or restore \
            into a new home. A damaged, truncated or foreign file is refused (65).

            The next revocation list is signed above the highest sequence seen: the backup's, \
            the home's revocations.seq and revocations.sgl, and each --list file (a list \
            exported elsewhere, or the one services hold: fetch it from GET /v1/revocations or \
            a service's cache). Copy keyring.json back from its own backup first: tokens \
            revoked on any of these lists, and deactivated on the newest, after the backup was \
            taken are revoked or deactivated again, when the list verifies with that keyring; \
            a GUID the backup does not hold (a token issued after it) is counted, with advice.

            Example:
              sigil --home keys ledger restore --from /backup/sigil-2027-01-15.db --list /srv/www/revocations.sgl
            """)
    static let serverUse = ServerUse.issuerHost(needs: "the issuer's home: it writes the home's ledger")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var actorOption: ActorOption

    @Option(name: .long, help: ArgumentHelp("The backup file (from sigil ledger backup).", valueName: "file"))
    var from: String

    @Option(
        name: .customLong("list"),
        help: ArgumentHelp(
            "A revocation list already published (repeatable): the next list goes above its sequence, and keeps what it stopped.",
            valueName: "file"))
    var lists: [String] = []

    func run() throws {
        try guarded(json: global.json) {
            let home = Home(global, actor: actorOption)
            let actor = try home.actor()
            let progress = ProgressLine.forCommand("restore", json: global.json)
            defer { progress.finish() }
            let restored = try Issuer.restoreLedger(
                from: from, home: home.path, database: home.database, seenLists: lists, busyTimeout: Home.busyTimeout,
                by: actor, now: Home.now, progress: progress.handler)
            progress.finish()
            let listed = restored.listed
            if global.json {
                Console.json(
                    [
                        "path": restored.path, "tokens": restored.tokens, "events": restored.events,
                        "backup_sequence": Int(clamping: restored.backupSequence),
                        "sequence": Int(clamping: restored.sequence), "keyring": restored.hasKeyring,
                        "listed": Self.json(listed),
                    ] as JSONObject)
            } else {
                Console.note(
                    "Restored \(restored.tokens) tokens and \(restored.events) events into \(Terminal.safe(restored.path)). The next revocation list is above sequence \(restored.sequence) (the backup knew \(restored.backupSequence))."
                )
            }
            Self.report(listed, json: global.json)
            if !restored.hasKeyring {
                Console.warning(
                    "\(Terminal.safe(home.path)) has no keyring.json: copy it back from its own backup before issuing, verifying or exporting (sigil init would make a new keyring no service trusts)."
                )
            }
        }
    }

    /// What the lists stopped again, as `--json` gives it.
    static func json(_ listed: ListedStatuses) -> JSONObject {
        [
            "revoked": listed.revoked, "deactivated": listed.deactivated, "unknown": listed.unknown,
            "unverified": listed.unverified,
        ]
    }

    /// The lines `restore` and `reconcile` print about the lists: what was stopped again
    /// (unless `--json`), and warnings for GUIDs the ledger never saw and lists that did not verify.
    static func report(_ listed: ListedStatuses, json: Bool) {
        if !json && listed.revoked + listed.deactivated > 0 {
            Console.note(
                "From the lists seen: revoked \(listed.revoked) and deactivated \(listed.deactivated) tokens again that were stopped after the backup."
            )
        }
        if listed.unknown > 0 {
            Console.warning(
                "\(listed.unknown) GUIDs on the lists are not in the backup: tokens issued after it, which still verify and which the next list no longer names. Rotate the token key (sigil keys rotate) and reissue (docs/DEPLOY.md, \"Restoring\")."
            )
        }
        for file in listed.unverified {
            Console.warning(
                "\(Terminal.safe(file)) does not verify with this home's keyring: its sequence counts, its entries were not applied. Copy keyring.json back first, or revoke what it lists by hand (docs/DEPLOY.md, \"Restoring\")."
            )
        }
    }
}

struct LedgerReconcile: ParsableCommand, SigilCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconcile",
        abstract:
            "After a restore by other means (pg_restore, a copied file): lists go above every sequence seen; what they stopped stays stopped.",
        discussion: """
            ledger restore does this itself. Run it on a ledger put back any other way, PostgreSQL \
            included, before sigil-server starts on it: the next revocation list is signed above \
            the highest sequence seen (the ledger's, the home's revocations.seq and \
            revocations.sgl, each --list file), and every token revoked on one of these lists, or \
            deactivated on the newest when it is newer than the ledger, is stopped again. Only \
            lists that verify with the home's keyring change tokens. Running it twice changes \
            nothing more.

            Example:
              curl -fsS -o /tmp/held.sgl https://issuer.example.com/v1/revocations
              sigil --database postgres://sigil@db/sigil ledger reconcile --list /tmp/held.sgl
            """)
    static let serverUse = ServerUse.issuerHost(needs: "the issuer's home and ledger")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var actorOption: ActorOption

    @Option(
        name: .customLong("list"),
        help: ArgumentHelp(
            "A revocation list already published (repeatable): fetch the one services hold from GET /v1/revocations.",
            valueName: "file"))
    var lists: [String] = []

    func run() throws {
        try guarded(json: global.json) {
            let home = Home(global, actor: actorOption)
            let done = try home.issuer().reconcile(withLists: lists, by: try home.actor(), now: Home.now)
            if global.json {
                Console.json(
                    ["sequence": Int(clamping: done.sequence), "listed": LedgerRestore.json(done.listed)] as JSONObject)
            } else {
                Console.note("The next revocation list is above sequence \(done.sequence).")
            }
            LedgerRestore.report(done.listed, json: global.json)
        }
    }
}
