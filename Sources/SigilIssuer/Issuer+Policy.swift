import SigilVerifier

extension TimeText {
    /// A lifetime in the largest unit that divides it: `90d`, `2w`, `36h`, `1y`, `45s`.
    ///
    /// ```swift
    /// assert(TimeText.formatDuration(7_776_000) == "90d")
    /// ```
    public static func formatDuration(_ seconds: Int64) -> String {
        for (unit, size) in [("y", Int64(31_536_000)), ("w", 604_800), ("d", 86_400), ("h", 3600), ("m", 60)]
        where seconds >= size && seconds % size == 0 {
            return "\(seconds / size)\(unit)"
        }
        return "\(seconds)s"
    }
}

extension Issuer {
    /// Caps the lifetime of tokens issued for `audience` from now on (`sigil policy set`).
    ///
    /// Tokens already issued are untouched: ``TokenQuery/violatingPolicy`` finds the ones the
    /// policy would refuse today. Setting a policy again replaces it.
    ///
    /// ```swift
    /// func capBilling(_ issuer: Issuer) throws {
    ///     let admin = try Actor(name: "alice")
    ///     _ = try issuer.setPolicy(audience: "billing", maxLifetime: 90 * 86_400, allowNeverExpires: false, by: admin)
    /// }
    /// ```
    ///
    /// - Throws: ``IssuerError``: `invalid_input` (audience, a lifetime that is not positive),
    ///   `lock_busy`, `cannot_write`.
    public func setPolicy(
        audience: String, maxLifetime: Int64, allowNeverExpires: Bool, by actor: Actor,
        now: Int64 = Issuer.currentTime()
    ) throws(IssuerError) -> LifetimePolicy {
        _ = try Audience(audience)
        guard maxLifetime > 0 else {
            throw IssuerError(
                .invalidInput, "the maximum lifetime must be positive, e.g. 90d",
                detail: .invalidLabel(field: "max_lifetime", problem: "must be a positive duration, e.g. 90d"))
        }
        let policy = LifetimePolicy(
            audience: audience, maxLifetime: maxLifetime, allowNeverExpires: allowNeverExpires, setAt: now,
            setBy: actor.name)
        return try transaction(write: true) {
            try store.putPolicy(policy)
            try record(
                .policy, by: actor, at: now, guids: [],
                details: [
                    ("audience", audience), ("max_lifetime", TimeText.formatDuration(maxLifetime)),
                    ("allow_never_expires", allowNeverExpires ? "true" : "false"),
                ])
            return policy
        }
    }

    /// Removes an audience's policy; tokens for it may then have any window again.
    ///
    /// - Returns: Whether there was a policy to remove (nothing is recorded if not).
    public func clearPolicy(audience: String, by actor: Actor, now: Int64 = Issuer.currentTime())
        throws(IssuerError) -> Bool
    {
        try transaction(write: true) {
            guard try store.removePolicy(audience: audience) else { return false }
            try record(.policy, by: actor, at: now, guids: [], details: [("audience", audience), ("cleared", "true")])
            return true
        }
    }

    /// Every audience's lifetime policy, by audience.
    public func policies() throws(IssuerError) -> [LifetimePolicy] {
        try transaction(write: false) { try store.policies() }
    }

    /// Refuses a window the audience's policy does not allow; called inside issue's transaction,
    /// so a policy set by another host a moment earlier counts.
    func checkPolicy(audience: String, validFrom: Int64, validTo: Int64?) throws {
        guard let policy = try store.policies().first(where: { $0.audience == audience }),
            !policy.allows(validFrom: validFrom, validTo: validTo)
        else { return }
        let limit =
            "at most \(TimeText.formatDuration(policy.maxLifetime))"
            + (policy.allowNeverExpires ? ", or never expiring" : "")
        let asked =
            validTo.map { "\(TimeText.formatDuration(max(1, $0 - validFrom))) was asked" }
            ?? "a token that never expires was asked"
        throw IssuerError(
            .invalidInput,
            "the lifetime policy of audience \(audience) allows tokens valid for \(limit); \(asked). Choose an earlier expiry, or change the policy (sigil policy set)",
            detail: .outsidePolicy(policy, validFrom: validFrom, validTo: validTo))
    }
}
