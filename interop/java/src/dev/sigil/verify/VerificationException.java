package dev.sigil.verify;

/**
 * A token that did not verify. The message is the reason code; it never holds the token or
 * anything read from it. No stack trace is captured: refusals are ordinary, frequent outcomes.
 */
public final class VerificationException extends Exception {
    private static final long serialVersionUID = 1L;
    private final Reason reason;

    public VerificationException(Reason reason) {
        super(reason.code(), null, false, false);
        this.reason = reason;
    }

    /** Why the token was refused. */
    public Reason reason() {
        return reason;
    }
}
