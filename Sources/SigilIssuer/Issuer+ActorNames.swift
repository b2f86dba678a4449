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

    /// People's names for actor names: what front ends show instead of a bare `token:<GUID>`.
    ///
    /// A `token:<GUID>` actor reads as that token's name (a deleted token's too, while its
    /// tombstone lasts); a `member:<email>` actor as the member's display name, while the member
    /// exists. Other actors (an OS user, a CLI `--actor`, `sigil-server`) have no
    /// name in the ledger and are left out of the answer. Only actors a caller already sees
    /// (the creators of tokens and the actors of events it may read) are asked about, so the
    /// answer tells it nothing it could not read on the token's own row.
    ///
    /// ```swift
    /// let names = try issuer.actorNames(page.items.map(\.createdBy))
    /// names["token:0f8c9e4a-2b7d-4c1e-9a3f-5d6e7f809a1b"]   // "CI deploy"
    /// ```
    ///
    /// - Parameter actors: Actor names, in any order, repeats allowed.
    /// - Returns: The name of each actor the ledger knows, by actor name.
    /// - Throws: ``IssuerError`` when the ledger cannot be read.
    public func actorNames(_ actors: some Sequence<String>) throws(IssuerError) -> [String: String] {
        let distinct = Set(actors)
        return try transaction(write: false) {
            var names: [String: String] = [:]
            for actor in distinct {
                if let id = Self.token(ofActor: actor), let row = try store.token(id) {
                    names[actor] = row.name
                } else if actor.hasPrefix(Self.memberActorPrefix),
                    let member = try store.member(email: String(actor.dropFirst(Self.memberActorPrefix.count)))
                {
                    names[actor] = member.name
                }
            }
            return names
        }
    }
}
