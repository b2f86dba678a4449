package dev.sigil.verify;

import java.util.Collections;
import java.util.List;

/**
 * The HTTP front of a verifier, free of any server API: give it the request's
 * {@code Authorization} header values and it answers like SigilHummingbird's middleware
 * (RFC 6750 §3). A servlet filter, a Netty handler or the {@link SigilFilter} for
 * {@code com.sun.net.httpserver} render the {@link Outcome} it returns.
 *
 * <table>
 * <caption>Answers</caption>
 * <tr><th>case</th><th>status</th><th>WWW-Authenticate</th></tr>
 * <tr><td>no Bearer credentials</td><td>401</td><td>{@code Bearer}</td></tr>
 * <tr><td>two Authorization headers, or not one b64token</td><td>400</td><td>{@code Bearer error="invalid_request"}</td></tr>
 * <tr><td>a token that fails verification</td><td>401</td><td>{@code Bearer error="invalid_token", error_description="<reason>"}</td></tr>
 * <tr><td>a valid token without the permission</td><td>403</td><td>{@code Bearer error="insufficient_scope", scope="<resource.action>"}</td></tr>
 * <tr><td>revocation list stale, failing closed</td><td>503</td><td>none</td></tr>
 * </table>
 *
 * <p>Everything in a header or body is a reason code or a permission name: the token is never
 * echoed, logged or put in an exception. Refusals are logged at DEBUG on the
 * {@code dev.sigil.verify} logger with their reason code.
 *
 * <pre>{@code
 * SigilBearer.Outcome o = bearer.authorize(request.getHeader("Authorization"));
 * if (!o.allowed()) { response.setStatus(o.status()); ... }
 * }</pre>
 */
public final class SigilBearer {
    private static final System.Logger LOG = System.getLogger("dev.sigil.verify");

    private final Verifier verifier;
    private final Permission permission;

    /**
     * @param verifier the service's verifier
     * @param permission what the guarded routes need; null accepts any valid token
     */
    public SigilBearer(Verifier verifier, Permission permission) {
        this.verifier = verifier;
        this.permission = permission;
    }

    public Permission permission() {
        return permission;
    }

    /** The answer to one request: allowed (with the token) or a refusal to send as is. */
    public static final class Outcome {
        private final int status;
        private final String wwwAuthenticate;
        private final String body;
        private final VerifiedToken token;
        private final String reason;

        Outcome(int status, String wwwAuthenticate, String body, VerifiedToken token, String reason) {
            this.status = status;
            this.wwwAuthenticate = wwwAuthenticate;
            this.body = body;
            this.token = token;
            this.reason = reason;
        }

        /** Whether the request may proceed. */
        public boolean allowed() {
            return token != null;
        }

        /** 200 when allowed; otherwise the refusal's status (400, 401, 403 or 503). */
        public int status() {
            return status;
        }

        /** The {@code WWW-Authenticate} value, or null when none is sent. */
        public String wwwAuthenticate() {
            return wwwAuthenticate;
        }

        /** The JSON body of a refusal; null when allowed. */
        public String body() {
            return body;
        }

        /** The verified token when allowed, else null. */
        public VerifiedToken token() {
            return token;
        }

        /**
         * The reason code of a refusal ({@code missing_token}, {@code multiple_authorization_headers},
         * {@code malformed_authorization} or a {@link Reason} code); null when allowed. Safe to log.
         */
        public String reason() {
            return reason;
        }
    }

    private static final Outcome MISSING = new Outcome(401, "Bearer", "{\"error\":\"missing_token\"}", null,
            "missing_token");
    private static final Outcome REPEATED = new Outcome(400, "Bearer error=\"invalid_request\"",
            "{\"error\":\"invalid_request\",\"reason\":\"multiple_authorization_headers\"}", null,
            "multiple_authorization_headers");
    private static final Outcome MALFORMED = new Outcome(400, "Bearer error=\"invalid_request\"",
            "{\"error\":\"invalid_request\",\"reason\":\"malformed_authorization\"}", null, "malformed_authorization");

    /** Authorizes a request with one {@code Authorization} header value, or null for none. */
    public Outcome authorize(String authorization) {
        return authorize(authorization == null ? Collections.emptyList() : List.of(authorization), nowSeconds());
    }

    /** Authorizes a request carrying every {@code Authorization} header value in {@code values}. */
    public Outcome authorize(List<String> values) {
        return authorize(values == null ? Collections.emptyList() : values, nowSeconds());
    }

    /** As {@link #authorize(List)}, at {@code now} (Unix seconds). */
    public Outcome authorize(List<String> values, long now) {
        if (values.isEmpty()) return MISSING;
        Outcome refused;
        if (values.size() > 1) {
            refused = REPEATED;
        } else {
            String token = bearerToken(values.get(0));
            if (token == null) return MISSING;
            if (token.isEmpty()) {
                refused = MALFORMED;
            } else {
                try {
                    return new Outcome(200, null, null, verifier.verify(token, permission, now), null);
                } catch (VerificationException e) {
                    refused = refusal(e.reason(), permission);
                }
            }
        }
        // The reason code and the permission only: never the header or the token.
        if (LOG.isLoggable(System.Logger.Level.DEBUG)) {
            LOG.log(System.Logger.Level.DEBUG, "refused: reason={0}{1}", refused.reason(),
                    permission == null ? "" : " permission=" + permission.name());
        }
        return refused;
    }

    /** The answer SigilHummingbird gives for a verifier's refusal. */
    public static Outcome refusal(Reason reason, Permission permission) {
        String code = reason.code();
        switch (reason) {
            case SCOPE_NOT_GRANTED: {
                String scope = permission == null ? "" : permission.name();
                return new Outcome(403, "Bearer error=\"insufficient_scope\", scope=\"" + scope + "\"",
                        "{\"error\":\"insufficient_scope\",\"reason\":\"" + code + "\",\"scope\":\"" + scope + "\"}", null,
                        code);
            }
            case REVOCATIONS_STALE:
                // The service's list is too old and its policy fails closed: not the client's fault.
                return new Outcome(503, null, "{\"error\":\"temporarily_unavailable\",\"reason\":\"" + code + "\"}", null,
                        code);
            default:
                return new Outcome(401, "Bearer error=\"invalid_token\", error_description=\"" + code + "\"",
                        "{\"error\":\"invalid_token\",\"reason\":\"" + code + "\"}", null, code);
        }
    }

    /**
     * Reads one header value as RFC 6750 §2.1 Bearer credentials, strictly, as SigilVerifier's
     * {@code BearerCredentials} does: the scheme name in any case, one or more spaces, then one
     * b64token ({@code 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="}).
     *
     * @return the b64token; null for no Bearer credentials (another scheme); "" for Bearer
     *     credentials that are not one b64token
     */
    static String bearerToken(String value) {
        int space = value.indexOf(' ');
        int schemeEnd = space < 0 ? value.length() : space;
        if (schemeEnd != 6 || !value.regionMatches(true, 0, "bearer", 0, 6)) {
            return null;
        }
        // Case-insensitive matching must not let a non-ASCII letter fold into "bearer".
        for (int k = 0; k < 6; k++) {
            if ((value.charAt(k) | 0x20) != "bearer".charAt(k)) return null;
        }
        if (space < 0) return "";
        int start = space;
        while (start < value.length() && value.charAt(start) == ' ') start++;
        boolean sawEquals = false;
        int count = 0;
        for (int k = start; k < value.length(); k++) {
            char c = value.charAt(k);
            if (c == '=') {
                sawEquals = true;
            } else if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'
                    || c == '_' || c == '~' || c == '+' || c == '/') {
                if (sawEquals) return "";
                count++;
            } else {
                return "";
            }
        }
        return count > 0 ? value.substring(start) : "";
    }

    private static long nowSeconds() {
        return System.currentTimeMillis() / 1000;
    }
}
