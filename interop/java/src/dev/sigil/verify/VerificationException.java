package dev.sigil.verify;

/**
 * A token that did not verify. The message is the reason code; it never holds the token. No
 * stack trace is captured: refusals are ordinary, frequent outcomes.
 */
public final class VerificationException extends Exception {
    private static final long serialVersionUID = 1L;
    private final Reason reason;
    private final transient byte[] authentic;
    private final int guidOffset;

    public VerificationException(Reason reason) {
        this(reason, null, 0);
    }

    /** A refusal of an authentic token (its MAC matched), whose GUID may be reported. */
    VerificationException(Reason reason, byte[] authentic, int guidOffset) {
        super(reason.code(), null, false, false);
        this.reason = reason;
        this.authentic = authentic;
        this.guidOffset = guidOffset;
    }

    /** Why the token was refused. */
    public Reason reason() {
        return reason;
    }

    /**
     * The token's GUID when its MAC matched and a later check refused it ({@code revoked},
     * {@code expired}, ...): safe to log. Null for {@code malformed}, {@code wrong_audience},
     * {@code unknown_key} and {@code bad_signature}, whose bytes are not authentic.
     */
    public String guid() {
        return authentic == null ? null : TokenGuid.text(authentic, guidOffset);
    }
}
