package dev.sigil.verify;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A {@code sigil-keyset-v1} export (docs/FORMAT.md §5): the service's audience, K_aud per token
 * key id and the Ed25519 public keys revocation lists are signed with. Never a master secret.
 *
 * <pre>{@code
 * Keyset keyset = Keyset.load(Path.of("/etc/billing/keyset.json"));
 * }</pre>
 */
public final class Keyset {
    public static final String FORMAT = "sigil-keyset-v1";
    /** Keysets are small; a larger file is refused before parsing. */
    public static final int MAX_BYTES = 1 << 20;

    private final String audience;
    private final Map<String, byte[]> tokenKeys;
    private final Map<String, byte[]> revocationKeys;

    /**
     * @throws KeysetException for an invalid audience or key id, a key that is not 32 bytes
     */
    public Keyset(String audience, Map<String, byte[]> tokenKeys, Map<String, byte[]> revocationKeys)
            throws KeysetException {
        if (audience == null || !Names.isAudience(audience)) {
            throw new KeysetException("audience is not [A-Za-z0-9._:-]{1,64}");
        }
        this.audience = audience;
        this.tokenKeys = copy(tokenKeys, "token");
        this.revocationKeys = copy(revocationKeys, "revocation");
    }

    private static Map<String, byte[]> copy(Map<String, byte[]> keys, String what) throws KeysetException {
        Map<String, byte[]> out = new LinkedHashMap<>();
        for (Map.Entry<String, byte[]> e : keys.entrySet()) {
            if (!Names.isKeyId(e.getKey())) throw new KeysetException(what + " key id is not [A-Za-z0-9_-]{1,32}");
            if (e.getValue() == null || e.getValue().length != 32) {
                throw new KeysetException(what + " key " + e.getKey() + " must be 32 bytes");
            }
            out.put(e.getKey(), e.getValue().clone());
        }
        return Collections.unmodifiableMap(out);
    }

    /** Reads a keyset file, refusing one over {@link #MAX_BYTES}. */
    public static Keyset load(Path path) throws KeysetException {
        byte[] bytes;
        try (InputStream in = Files.newInputStream(path)) {
            bytes = in.readNBytes(MAX_BYTES + 1);
        } catch (IOException e) {
            throw new KeysetException("cannot read keyset " + path + ": " + e.getClass().getSimpleName());
        }
        if (bytes.length > MAX_BYTES) throw new KeysetException(path + ": keyset is larger than 1 MiB");
        try {
            return parse(bytes);
        } catch (KeysetException e) {
            throw new KeysetException(path + ": " + e.getMessage());
        }
    }

    /** Parses keyset JSON (UTF-8). */
    public static Keyset parse(byte[] json) throws KeysetException {
        if (json.length > MAX_BYTES) throw new KeysetException("keyset is larger than 1 MiB");
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(java.nio.ByteBuffer.wrap(json)).toString();
        } catch (CharacterCodingException e) {
            throw new KeysetException("keyset is not UTF-8");
        }
        Object value;
        try {
            value = Json.parse(text, MAX_BYTES);
        } catch (Json.ParseException e) {
            throw new KeysetException("keyset is not strict JSON: " + e.getMessage());
        }
        return fromJson(value);
    }

    /** Builds a keyset from an already parsed JSON object (as {@link Json#parse} returns it). */
    public static Keyset fromJson(Object value) throws KeysetException {
        Map<String, Object> m = Json.asObject(value);
        if (m == null) throw new KeysetException("keyset is not a JSON object");
        if (!FORMAT.equals(m.get("format"))) {
            throw new KeysetException("keyset format is not " + FORMAT + "; export it again");
        }
        if (!(m.get("audience") instanceof String)) throw new KeysetException("keyset audience is missing");
        return new Keyset((String) m.get("audience"), keys(m.get("token_keys"), "token_keys", "key"),
                keys(m.get("revocation_keys"), "revocation_keys", "public_key"));
    }

    private static Map<String, byte[]> keys(Object value, String field, String member) throws KeysetException {
        List<Object> list = Json.asArray(value);
        if (list == null) throw new KeysetException("keyset " + field + " is not an array");
        Map<String, byte[]> out = new LinkedHashMap<>();
        for (Object o : list) {
            Map<String, Object> e = Json.asObject(o);
            if (e == null || !(e.get("kid") instanceof String) || !(e.get(member) instanceof String)) {
                throw new KeysetException("keyset " + field + " entries need kid and " + member);
            }
            String kid = (String) e.get("kid");
            if (!Names.isKeyId(kid)) throw new KeysetException("keyset " + field + " has a kid that is not [A-Za-z0-9_-]{1,32}");
            byte[] key = Base64Url.decode((String) e.get(member));
            if (key == null) throw new KeysetException("keyset " + field + " " + kid + " is not canonical base64url");
            if (out.put(kid, key) != null) {
                // A duplicate would make the key a token or list is checked with depend on order.
                throw new KeysetException("keyset " + field + " ids must be unique; export the keyset again");
            }
        }
        return out;
    }

    public String audience() {
        return audience;
    }

    /** K_aud per key id (copies are made by the verifier; do not modify). */
    public Map<String, byte[]> tokenKeys() {
        return tokenKeys;
    }

    /** Ed25519 public key (32 bytes) per key id. */
    public Map<String, byte[]> revocationKeys() {
        return revocationKeys;
    }
}
