public import SigilVerifier

extension Issuer {
    /// The prefix of the actor name a token acting through the API gets (``Actor/init(token:)``).
    public static let tokenActorPrefix = "token:"

    /// The prefix of the actor name a member acting through the API gets (``Actor/init(member:)``).
    public static let memberActorPrefix = "member:"

    /// The token an actor name stands for, when it is `token:<GUID>`.
    public static func token(ofActor actor: String) -> TokenID? {
        guard actor.hasPrefix(tokenActorPrefix) else { return nil }
        return TokenID(uuidString: actor.dropFirst(tokenActorPrefix.count))
    }

    /// People's names for actor names, as `caller` may see them: what front ends show instead
    /// of a bare `token:<GUID>`.
    ///
    /// A `token:<GUID>` actor reads as that token's name (a deleted token's too, while its
    /// tombstone lasts) when the caller reaches the token's audience; a `member:<email>` actor
    /// as the member's display name, while the member exists, when the caller reaches the
    /// member's audience and holds `members.read` or `members.list` (what it needs to read the
    /// member itself), or when the actor is the calling member itself. Other actors (an OS user, a CLI `--actor`, `sigil-server`), and actors
    /// the caller may not read, are left out of the answer: it tells the caller nothing it could
    /// not read on the token's or member's own row.
    ///
    /// ```swift
    /// let names = try issuer.actorNames(page.items.map(\.createdBy), as: caller)
    /// names["token:0f8c9e4a-2b7d-4c1e-9a3f-5d6e7f809a1b"]   // "CI deploy"
    /// ```
    ///
    /// - Parameters:
    ///   - actors: Actor names, in any order, repeats allowed.
    ///   - caller: Who asks; only names it may read are returned.
    /// - Returns: The name of each actor the ledger knows and the caller may read, by actor name.
    /// - Throws: ``IssuerError`` when the ledger cannot be read.
    public func actorNames(_ actors: some Sequence<String>, as caller: Caller) throws(IssuerError) -> [String: String] {
        let distinct = Set(actors)
        // Lazy: a refused `authorize` builds an error, and most answers name tokens only.
        lazy var readsMembers = ["members.read", "members.list"].contains { (permission: String) -> Bool in
            (try? authorize(caller, permission)) != nil
        }
        return try transaction(write: false) {
            var names: [String: String] = [:]
            for actor in distinct {
                if let id = Self.token(ofActor: actor), let row = try store.token(id) {
                    if caller.reaches(row.audience) { names[actor] = row.name }
                } else if let member = caller.member, actor == caller.actor.name {
                    // Its own name: a member sees who it is without members.read.
                    names[actor] = member.name
                } else if readsMembers, actor.hasPrefix(Self.memberActorPrefix),
                    let member = try store.member(email: String(actor.dropFirst(Self.memberActorPrefix.count))),
                    caller.reaches(member.audience)
                {
                    names[actor] = member.name
                }
            }
            return names
        }
    }
}
