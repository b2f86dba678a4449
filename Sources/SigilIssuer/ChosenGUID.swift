public import SigilVerifier

/// The rule for a GUID a client picks for the token it is about to issue (`POST /v1/tokens`
/// with `guid`; the console shows the new token's GUID before it exists).
///
/// The GUID must be a version-4 UUID (RFC 9562: version nibble 4, variant `10`), given in the
/// canonical 8-4-4-4-12 form (hex digits in either case), and this ledger must never have used
/// it: not for a live token, a deleted one, nor one whose tombstone compaction purged (the
/// audit log still names it). A malformed or non-v4 GUID is `invalid_input` (HTTP 422); a
/// used one is `conflict` (HTTP 409), both through ``ErrorContract``.
///
/// The issuer cannot tell whether the client drew it at random; clients must (the console
/// uses `crypto.randomUUID`). A guessed GUID only ever fails: it cannot take over a used one.
///
/// ```swift
/// let id = try ChosenGUID.parse("0f8c9e4a-2b7d-4c1e-9a3f-5d6e7f809a1b")
/// let issued = try issuer.issue(IssueRequest(name: "ci", audience: "billing", scope: .all, guid: id), by: actor)
/// assert(issued.record.id == id)
/// ```
public enum ChosenGUID {
    /// Reads a chosen GUID from its text.
    ///
    /// - Parameter text: The canonical form, `xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx`.
    /// - Returns: The GUID.
    /// - Throws: ``IssuerError`` `invalid_input` / ``IssuerError/Detail/invalidLabel(field:problem:)``
    ///   with field `guid`. The message never repeats the text (people paste tokens in the wrong box).
    public static func parse(_ text: String) throws(IssuerError) -> TokenID {
        guard text.utf8.count == 36, let id = TokenID(uuidString: text) else {
            throw refused(
                "is not a UUID in its canonical form (8-4-4-4-12 hex digits, e.g. 3b241101-e2bb-4255-8caf-4136c566a962)"
            )
        }
        try check(id)
        return id
    }

    /// Throws unless `id` is a version-4 UUID of the RFC 9562 variant.
    ///
    /// - Throws: ``IssuerError`` `invalid_input` / ``IssuerError/Detail/invalidLabel(field:problem:)``.
    public static func check(_ id: TokenID) throws(IssuerError) {
        let version = (id.rawValue >> 76) & 0xf
        let variant = (id.rawValue >> 62) & 0x3
        guard version == 4, variant == 0b10 else {
            throw refused(
                "must be a random version-4 UUID (version \(version) given\(variant == 0b10 ? "" : ", not the RFC 9562 variant")); generate one, e.g. with crypto.randomUUID()"
            )
        }
    }

    /// `conflict`: the ledger used `id` before (a token, deleted or not, or an event naming it).
    public static func used(_ id: TokenID) -> IssuerError {
        IssuerError(
            .conflict,
            "guid \(id) was already used in this ledger (a token, possibly deleted, or a member had it); a GUID is never reused: generate a new one",
            detail: .invalidLabel(field: "guid", problem: "was already used in this ledger"))
    }

    private static func refused(_ problem: String) -> IssuerError {
        IssuerError(.invalidInput, "guid \(problem)", detail: .invalidLabel(field: "guid", problem: problem))
    }
}
