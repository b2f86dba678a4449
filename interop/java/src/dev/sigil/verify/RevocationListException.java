package dev.sigil.verify;

/**
 * A revocation list or delta that was refused (docs/FORMAT.md §4.2, §4.3). The list in force,
 * if any, stays.
 * The message holds the reason code and safe detail (sizes, sequences, key ids).
 */
public final class RevocationListException extends Exception {
    private static final long serialVersionUID = 1L;

    /**
     * The refusal reasons of §4.2 in check order, then those of a loader's state, the delta's
     * (§4.3) and I/O.
     */
    public enum Reason {
        TOO_LARGE("too_large"),
        MALFORMED("malformed"),
        UNSUPPORTED_VERSION("unsupported_version"),
        UNKNOWN_KEY("unknown_key"),
        BAD_SIGNATURE("bad_signature"),
        ROLLBACK("rollback"),
        EQUIVOCATION("equivocation"),
        /** A delta for another list than the one in force, or with no list in force. */
        DELTA_BASE_MISMATCH("delta_base_mismatch"),
        IO("io");

        private final String code;

        Reason(String code) {
            this.code = code;
        }

        public String code() {
            return code;
        }
    }

    private final Reason reason;

    public RevocationListException(Reason reason, String detail) {
        super(reason.code() + (detail == null || detail.isEmpty() ? "" : ": " + detail), null, false, false);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }
}
