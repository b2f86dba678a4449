import Foundation
import SigilIssuer
import SigilVerifier

/// The members use cases a `sigil members` command calls: the home's ``Issuer`` on the issuer
/// host (``LocalMemberClient``), or sigil-server's `/v1/members` with `--server`
/// (``RemoteMemberClient``). Both answer the same values, so text, `--json` and exit codes
/// are the same either way; the issuer decides every rule.
protocol MemberClient {
    func add(_ request: MemberRequest) async throws -> Member
    /// Every member, in the order they were added, optionally of one status (all pages).
    func list(status: MemberStatus?) async throws -> [Member]
    /// The member an ID or an email names.
    func member(_ selector: String) async throws -> Member
    func edit(_ selector: String, _ edit: MemberEdit) async throws -> Member
    func suspend(_ selector: String, cascade: Bool) async throws -> MemberSuspension
    func activate(_ selector: String) async throws -> Member
    /// Removes the member; answers it as it was.
    func remove(_ selector: String) async throws -> Member
}

/// The member client `global` names: sigil-server with `--server`, else the home.
func memberClient(_ global: GlobalOptions, actor: ActorOption? = nil) throws -> any MemberClient {
    if let remote = try RemoteIssuer.open(global) {
        if actor?.actor != nil {
            throw CLIFailure.usage(
                "--actor does not apply with --server: the server's audit log names the caller (token:GUID or member:email)"
            )
        }
        return RemoteMemberClient(remote: remote)
    }
    return LocalMemberClient(home: Home(global, actor: actor))
}

/// The home's issuer: the local operator on the issuer host, named by `--actor` or the OS user.
struct LocalMemberClient: MemberClient {
    let home: Home

    func add(_ request: MemberRequest) async throws -> Member {
        // Every check that needs no ledger runs before a home is created.
        _ = try MemberEmail(request.email)
        _ = try MemberName.check(request.name)
        _ = try Audience(request.audience)
        let actor = try home.actor()
        // The first administrator is added on a fresh home: create it if missing.
        return try home.issuer(.createIfMissing).addMember(request, by: actor, now: Home.now)
    }

    func list(status: MemberStatus?) async throws -> [Member] {
        let issuer = try home.issuer()
        var out: [Member] = []
        var cursor: String?
        repeat {
            let page = try issuer.members(
                status: status, page: PageRequest(limit: PageRequest.maxLimit, cursor: cursor))
            out += page.items
            cursor = page.nextCursor
        } while cursor != nil
        return out
    }

    func member(_ selector: String) async throws -> Member { try home.issuer().member(selector) }

    func edit(_ selector: String, _ edit: MemberEdit) async throws -> Member {
        try home.issuer().editMember(selector, edit, by: try home.actor(), now: Home.now)
    }

    func suspend(_ selector: String, cascade: Bool) async throws -> MemberSuspension {
        try home.issuer().suspendMember(selector, cascade: cascade, by: try home.actor(), now: Home.now)
    }

    func activate(_ selector: String) async throws -> Member {
        try home.issuer().activateMember(selector, by: try home.actor(), now: Home.now)
    }

    func remove(_ selector: String) async throws -> Member {
        try home.issuer().removeMember(selector, by: try home.actor(), now: Home.now)
    }
}

/// sigil-server's `/v1/members` with the caller's token: the server decides every rule.
struct RemoteMemberClient: MemberClient {
    let remote: RemoteIssuer

    func add(_ request: MemberRequest) async throws -> Member { try await remote.addMember(request) }

    func list(status: MemberStatus?) async throws -> [Member] { try await remote.members(status: status) }

    func member(_ selector: String) async throws -> Member { try await remote.member(selector) }

    /// The ID a selector names: an ID as it is, an email looked up.
    private func id(_ selector: String) async throws -> TokenID {
        if let id = Issuer.memberID(selector) { return id }
        return try await remote.member(selector).id
    }

    func edit(_ selector: String, _ edit: MemberEdit) async throws -> Member {
        try await remote.editMember(try await id(selector), edit)
    }

    func suspend(_ selector: String, cascade: Bool) async throws -> MemberSuspension {
        try await remote.suspendMember(try await id(selector), cascade: cascade)
    }

    func activate(_ selector: String) async throws -> Member {
        try await remote.activateMember(try await id(selector))
    }

    func remove(_ selector: String) async throws -> Member {
        let member = try await remote.member(selector)
        try await remote.removeMember(member.id)
        return member
    }
}
