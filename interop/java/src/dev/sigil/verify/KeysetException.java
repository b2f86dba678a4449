package dev.sigil.verify;

/** A keyset or verifier configuration that cannot be used. The message never holds key bytes. */
public final class KeysetException extends Exception {
    private static final long serialVersionUID = 1L;

    public KeysetException(String message) {
        super(message);
    }
}
