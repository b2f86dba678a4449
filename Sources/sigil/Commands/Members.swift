import ArgumentParser
import Foundation
import SigilIssuer
import SigilVerifier

struct MembersCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "members",
        abstract: "Manage the people who sign in to the console with the organization's identity provider.",
        discussion: """
            A member is a person, found by email when they sign in through single sign-on \
            (sigil-server --oidc-issuer …). Their rights are written exactly like a token's: an \
            audience (sigil, the organization audience, manages every audience) and a scope \
            (--all, --read-only or --scope resource.action). There are no roles: a role is a set \
            of rights (docs/MEMBERS.md). Tokens a member issues name member:<email> as creator.

            The first administrator is added on the issuer host, where the home gives every \
            right; then they sign in and manage the rest:
              sigil members add --email ada@example.com --name "Ada Lovelace" --audience sigil --all

            Through sigil-server (--server URL --token-file FILE) the caller needs members.* \
            permissions and never grants more than it holds: a member's audience and scope must \
            be within the caller's, and since a member does not expire, a token that expires \
            cannot add one.

            Examples:
              sigil members list --status suspended
              sigil members show ada@example.com --json
              sigil members edit ada@example.com --read-only
              sigil members suspend ada@example.com --cascade
              sigil members activate ada@example.com
              sigil members remove ada@example.com

            Exit codes: 0 done; 64 bad input (email, name, audience, scope); 65 the email is \
            already a member's (conflict); 66 no such member; 69 server unreachable; 77 the \
            caller may not do this, or asked for more rights than it holds.
            """,
        subcommands: [
            MembersList.self, MembersAdd.self, MembersShow.self, MembersEdit.self, MembersSuspend.self,
            MembersActivate.self, MembersRemove.self,
        ],
        defaultSubcommand: MembersList.self)
}

/// The rights flags `add` and `edit` take: exactly like `sigil issue`'s.
struct MemberRightsOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "The audience the member manages (\(Audience.pattern)); sigil = every audience.", valueName: "audience"))
    var audience: String?

    @Flag(help: "Grant everything, including resources added later.")
    var all = false

    @Flag(name: .customLong("read-only"), help: "Grant every read action, including ones added later.")
    var readOnly = false

    @Option(
        name: .customLong("scope"),
        help: ArgumentHelp(
            "Grant resource.action (repeatable; resource.* = today's actions; members.*, tokens.* manage them).",
            valueName: "resource.action"))
    var scopes: [String] = []

    var kinds: Int { [all, readOnly, !scopes.isEmpty].filter { $0 }.count }

    /// The scope the flags ask for, or nil when none is given.
    var scope: ScopeRequest? {
        if all { return .all }
        if readOnly { return .readOnly }
        return scopes.isEmpty ? nil : .custom(scopes)
    }
}

/// The text lines of one member, as `show`, `add` and the changes print them.
func memberLines(_ m: Member) -> String {
    [
        "email        \(Terminal.safe(m.email))",
        "name         \(Terminal.safe(m.name))",
        "id           \(m.id)",
        "audience     \(Terminal.safe(m.audience))",
        "scope        \(Terminal.safe(m.scope.summary))",
        "status       \(m.status.rawValue)",
        "created      \(TimeText.format(m.createdAt)) by \(Terminal.safe(m.createdBy))",
        "last sign-in \(m.lastSignInAt.map(TimeText.format) ?? "never")",
    ].joined(separator: "\n")
}

struct MembersList: AsyncParsableCommand, SigilCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List members in the order they were added.",
        discussion: """
            --json prints one JSON array of members (keys: id, email, name, audience, scope, \
            status, created_by, created_at, last_sign_in_at).

            Example:
              sigil members list --status active --json
            """)
    static let serverUse = ServerUse.remote
    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Only members with this status: active or suspended.", valueName: "status"))
    var status: MemberStatus?

    func run() async throws {
        try await guardedAsync(json: global.json) {
            let members = try await memberClient(global).list(status: status)
            if global.json {
                Console.json(members.map(WireMember.init))
                return
            }
            guard !members.isEmpty else {
                Console.note(
                    status == nil
                        ? "No members. Add the first administrator on the issuer host: sigil members add --email EMAIL --name NAME --audience sigil --all"
                        : "No \(status?.rawValue ?? "") members.")
                return
            }
            let rows = members.map { m in
                [
                    m.id.description, Terminal.safe(m.email), Terminal.safe(m.name), Terminal.safe(m.audience),
                    Terminal.safe(m.scope.summary), m.status.rawValue,
                    m.lastSignInAt.map(TimeText.formatDate) ?? "never",
                ]
            }
            Console.out(
                table(header: ["ID", "EMAIL", "NAME", "AUDIENCE", "SCOPE", "STATUS", "LAST SIGN-IN"], rows: rows))
        }
    }
}

struct MembersAdd: AsyncParsableCommand, SigilCommand {
    static let configuration = CommandConfiguration(
        commandName: "add", abstract: "Add a member: an email, a display name and rights like a token's.",
        discussion: """
            The email is stored lower-cased and is unique whatever its case. The member signs in \
            with it through single sign-on; nothing is sent to them.

            Examples:
              sigil members add --email ada@example.com --name "Ada Lovelace" --audience sigil --all
              sigil members add --email ops@example.com --name Ops --audience billing --scope tokens.* --scope devices.get
            """)
    static let serverUse = ServerUse.remote
    @OptionGroup var global: GlobalOptions
    @OptionGroup var actorOption: ActorOption
    @Option(help: ArgumentHelp("The member's email, as the identity provider vouches for it.", valueName: "email"))
    var email: String
    @Option(help: ArgumentHelp("The member's display name.", valueName: "name"))
    var name: String
    @OptionGroup var rights: MemberRightsOptions

    func validate() throws {
        guard rights.audience != nil else {
            throw ValidationError("give the member's --audience (sigil = every audience)")
        }
        guard rights.kinds == 1 else {
            throw ValidationError("choose exactly one scope: --all, --read-only or --scope resource.action")
        }
    }

    func run() async throws {
        try await guardedAsync(json: global.json) {
            let request = MemberRequest(
                email: email, name: name, audience: rights.audience ?? "", scope: rights.scope ?? .readOnly)
            let member = try await memberClient(global, actor: actorOption).add(request)
            if global.json {
                Console.json(WireMember(member))
                return
            }
            Console.out(memberLines(member))
            Console.note(
                "Added \(Terminal.safe(member.email)). They sign in to the console with single sign-on (docs/MEMBERS.md)."
            )
        }
    }
}

struct MembersShow: AsyncParsableCommand, SigilCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Show one member, by ID or email.",
        discussion: """
            Example:
              sigil members show ada@example.com
            """)
    static let serverUse = ServerUse.remote
    @OptionGroup var global: GlobalOptions
    @Argument(help: ArgumentHelp("The member's ID (a GUID) or email.", valueName: "member"))
    var member: String

    func run() async throws {
        try await guardedAsync(json: global.json) {
            let m = try await memberClient(global).member(member)
            if global.json {
                Console.json(WireMember(m))
            } else {
                Console.out(memberLines(m))
            }
        }
    }
}

struct MembersEdit: AsyncParsableCommand, SigilCommand {
    static let configuration = CommandConfiguration(
        commandName: "edit", abstract: "Change a member's name, audience or scope.",
        discussion: """
            Give any of --name, --audience and one scope flag; the rest is kept. The new rights \
            apply to the member's sessions at their next request.

            Examples:
              sigil members edit ada@example.com --name "Ada King"
              sigil members edit ada@example.com --audience billing --read-only
            """)
    static let serverUse = ServerUse.remote
    @OptionGroup var global: GlobalOptions
    @OptionGroup var actorOption: ActorOption
    @Argument(help: ArgumentHelp("The member's ID (a GUID) or email.", valueName: "member"))
    var member: String
    @Option(help: ArgumentHelp("A new display name.", valueName: "name"))
    var name: String?
    @OptionGroup var rights: MemberRightsOptions

    func validate() throws {
        guard rights.kinds <= 1 else {
            throw ValidationError("choose at most one scope: --all, --read-only or --scope resource.action")
        }
        guard name != nil || rights.audience != nil || rights.kinds == 1 else {
            // The issuer's rule, checked early for a usage error; its message, not a second one.
            throw ValidationError(MemberEdit.emptyRefusal.message)
        }
    }

    func run() async throws {
        try await guardedAsync(json: global.json) {
            let edit = MemberEdit(name: name, audience: rights.audience, scope: rights.scope)
            let m = try await memberClient(global, actor: actorOption).edit(member, edit)
            if global.json {
                Console.json(WireMember(m))
            } else {
                Console.out(memberLines(m))
            }
        }
    }
}

struct MembersSuspend: AsyncParsableCommand, SigilCommand {
    static let configuration = CommandConfiguration(
        commandName: "suspend", abstract: "Stop a member: no sign-in, and their sessions end at their next request.",
        discussion: """
            With --cascade, the active tokens the member created (created_by member:<email>) are \
            deactivated too, in the same transaction; activate them one by one later if needed. \
            Undo a suspension with: sigil members activate.

            --json prints {"member": {…}, "deactivated": [GUID…]}.

            Example:
              sigil members suspend ada@example.com --cascade
            """)
    static let serverUse = ServerUse.remote
    @OptionGroup var global: GlobalOptions
    @OptionGroup var actorOption: ActorOption
    @Argument(help: ArgumentHelp("The member's ID (a GUID) or email.", valueName: "member"))
    var member: String
    @Flag(help: "Also deactivate the active tokens this member created.")
    var cascade = false

    func run() async throws {
        try await guardedAsync(json: global.json) {
            let result = try await memberClient(global, actor: actorOption).suspend(member, cascade: cascade)
            if global.json {
                Console.json(WireMemberSuspension(result))
                return
            }
            Console.out(
                "Suspended \(Terminal.safe(result.member.email)): no sign-in; their sessions end at their next request."
            )
            if cascade {
                Console.out("Deactivated \(result.deactivated.count) token(s) they created.")
                for id in result.deactivated { Console.out("  \(id)") }
            }
        }
    }
}

struct MembersActivate: AsyncParsableCommand, SigilCommand {
    static let configuration = CommandConfiguration(
        commandName: "activate", abstract: "Let a suspended member sign in again.",
        discussion: """
            Tokens a suspend --cascade deactivated stay deactivated: sigil activate GUID.

            Example:
              sigil members activate ada@example.com
            """)
    static let serverUse = ServerUse.remote
    @OptionGroup var global: GlobalOptions
    @OptionGroup var actorOption: ActorOption
    @Argument(help: ArgumentHelp("The member's ID (a GUID) or email.", valueName: "member"))
    var member: String

    func run() async throws {
        try await guardedAsync(json: global.json) {
            let m = try await memberClient(global, actor: actorOption).activate(member)
            if global.json {
                Console.json(WireMember(m))
            } else {
                Console.out("Activated \(Terminal.safe(m.email)): they may sign in again.")
            }
        }
    }
}

struct MembersRemove: AsyncParsableCommand, SigilCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove", abstract: "Remove a member; their sessions end at their next request.",
        discussion: """
            The tokens they created stay as they are (suspend --cascade first to deactivate \
            them); the audit log keeps every event. The email may be added again later, as a \
            new member with a new ID.

            Example:
              sigil members remove ada@example.com
            """)
    static let serverUse = ServerUse.remote
    @OptionGroup var global: GlobalOptions
    @OptionGroup var actorOption: ActorOption
    @Argument(help: ArgumentHelp("The member's ID (a GUID) or email.", valueName: "member"))
    var member: String

    func run() async throws {
        try await guardedAsync(json: global.json) {
            let m = try await memberClient(global, actor: actorOption).remove(member)
            if global.json {
                Console.json(WireMember(m))
            } else {
                Console.out("Removed \(Terminal.safe(m.email)) (\(m.id)).")
            }
        }
    }
}
