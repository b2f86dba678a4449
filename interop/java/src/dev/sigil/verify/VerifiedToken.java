package dev.sigil.verify;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The claims of a token that verified. Read from the authenticated bytes when asked for, so a
 * verify that only needs "allowed or not" pays for nothing else.
 */
public final class VerifiedToken {
    /** The scope kinds of docs/FORMAT.md §1.2. */
    public enum ScopeKind {
        ALL,
        READ_ONLY,
        CUSTOM
    }

    private final byte[] d;
    private final int kidOffset;
    private final int audOffset;
    private final int guidOffset;
    private final long validFrom;
    private final long validTo;
    private final int kind;
    private final int scopeOffset;
    private final int scopeCount;

    VerifiedToken(byte[] d, int kidOffset, int audOffset, int guidOffset, long validFrom, long validTo, int kind,
            int scopeOffset, int scopeCount) {
        this.d = d;
        this.kidOffset = kidOffset;
        this.audOffset = audOffset;
        this.guidOffset = guidOffset;
        this.validFrom = validFrom;
        this.validTo = validTo;
        this.kind = kind;
        this.scopeOffset = scopeOffset;
        this.scopeCount = scopeCount;
    }

    /** The GUID in lowercase hyphenated form: what revocation lists name, safe to log. */
    public String guid() {
        return TokenGuid.text(d, guidOffset);
    }

    public String keyId() {
        return new String(d, kidOffset + 1, d[kidOffset] & 0xff, StandardCharsets.US_ASCII);
    }

    public String audience() {
        return new String(d, audOffset + 1, d[audOffset] & 0xff, StandardCharsets.US_ASCII);
    }

    /** First second of validity (inclusive), Unix seconds. */
    public long validFrom() {
        return validFrom;
    }

    /** First second the token is no longer valid (exclusive), or null if it never expires. */
    public Long validTo() {
        return validTo == 0 ? null : validTo;
    }

    public ScopeKind scopeKind() {
        return kind == 1 ? ScopeKind.ALL : kind == 2 ? ScopeKind.READ_ONLY : ScopeKind.CUSTOM;
    }

    /** The custom scope's {@code resource.action} names in token order; empty for all and read-only. */
    public List<String> scope() {
        List<String> out = new ArrayList<>(scopeCount);
        int i = scopeOffset;
        for (int k = 0; k < scopeCount; k++) {
            int n = d[i] & 0xff;
            out.add(new String(d, i + 1, n, StandardCharsets.US_ASCII));
            i += 1 + n;
        }
        return Collections.unmodifiableList(out);
    }

    @Override
    public String toString() {
        return "VerifiedToken(" + guid() + ")";
    }
}
