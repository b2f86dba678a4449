package dev.sigil.verify;

import com.sun.net.httpserver.Filter;
import com.sun.net.httpserver.HttpExchange;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * A {@code com.sun.net.httpserver} filter that lets a request through only with a Sigil token
 * that verifies and grants the permission; refusals are answered here as {@link SigilBearer}
 * describes. An accepted exchange carries the {@link VerifiedToken} as the attribute
 * {@link #TOKEN_ATTRIBUTE}.
 *
 * <pre>{@code
 * HttpContext ctx = server.createContext("/devices", handler);
 * ctx.getFilters().add(new SigilFilter(verifier, Permission.read("devices.list")));
 * }</pre>
 */
public final class SigilFilter extends Filter {
    /** The exchange attribute holding the {@link VerifiedToken} of an accepted request. */
    public static final String TOKEN_ATTRIBUTE = "dev.sigil.verify.token";

    private final SigilBearer bearer;

    /**
     * @param verifier the service's verifier
     * @param permission what the context's routes need; null accepts any valid token
     */
    public SigilFilter(Verifier verifier, Permission permission) {
        this.bearer = new SigilBearer(verifier, permission);
    }

    /** The verified token of an exchange this filter let through, or null. */
    public static VerifiedToken token(HttpExchange exchange) {
        Object t = exchange.getAttribute(TOKEN_ATTRIBUTE);
        return t instanceof VerifiedToken ? (VerifiedToken) t : null;
    }

    @Override
    public void doFilter(HttpExchange exchange, Chain chain) throws IOException {
        List<String> values = exchange.getRequestHeaders().get("Authorization");
        SigilBearer.Outcome outcome = bearer.authorize(values);
        if (outcome.allowed()) {
            exchange.setAttribute(TOKEN_ATTRIBUTE, outcome.token());
            chain.doFilter(exchange);
            return;
        }
        // Drain a small request body so keep-alive connections stay usable; never echo it.
        exchange.getRequestBody().close();
        byte[] body = outcome.body().getBytes(StandardCharsets.UTF_8);
        if (outcome.wwwAuthenticate() != null) exchange.getResponseHeaders().set("WWW-Authenticate", outcome.wwwAuthenticate());
        exchange.getResponseHeaders().set("Content-Type", "application/json; charset=utf-8");
        exchange.getResponseHeaders().set("Cache-Control", "no-store");
        if ("HEAD".equalsIgnoreCase(exchange.getRequestMethod())) {
            exchange.sendResponseHeaders(outcome.status(), -1);
        } else {
            exchange.sendResponseHeaders(outcome.status(), body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        }
        exchange.close();
    }

    @Override
    public String description() {
        return "Sigil bearer token check";
    }
}
