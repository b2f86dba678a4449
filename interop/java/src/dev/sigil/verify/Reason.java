package dev.sigil.verify;

/**
 * Why a token was refused: the reason codes of docs/FORMAT.md §3, in check order. {@link #code()}
 * is the stable string the Swift verifier, {@code sigil verify --json} and the conformance
 * runners report.
 */
public enum Reason {
    MALFORMED("malformed"),
    WRONG_AUDIENCE("wrong_audience"),
    UNKNOWN_KEY("unknown_key"),
    BAD_SIGNATURE("bad_signature"),
    REVOCATIONS_STALE("revocations_stale"),
    REVOKED("revoked"),
    DEACTIVATED("deactivated"),
    NOT_YET_VALID("not_yet_valid"),
    EXPIRED("expired"),
    SCOPE_NOT_GRANTED("scope_not_granted");

    private final String code;

    Reason(String code) {
        this.code = code;
    }

    /** The stable reason code, e.g. {@code bad_signature}. */
    public String code() {
        return code;
    }
}
