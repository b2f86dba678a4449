package dev.sigil.verify.tests;

import dev.sigil.verify.Base64Url;
import dev.sigil.verify.Hkdf;
import dev.sigil.verify.Json;
import dev.sigil.verify.Keyset;
import dev.sigil.verify.Permission;
import dev.sigil.verify.Reason;
import dev.sigil.verify.RevocationList;
import dev.sigil.verify.RevocationListException;
import dev.sigil.verify.RevocationStore;
import dev.sigil.verify.RevocationStore.NoListPolicy;
import dev.sigil.verify.VerifiedToken;
import dev.sigil.verify.Verifier;
import dev.sigil.verify.tools.Fixtures;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Interop with the Swift CLI (SIGIL_BIN, default .build/debug/sigil): its tokens, keysets and
 * lists verify here, and tokens minted here with its exported keys pass {@code sigil verify}.
 * Skipped, with a note, when the binary is missing.
 */
final class CliTests {
    private CliTests() {}

    static Path sigil() {
        String env = System.getenv("SIGIL_BIN");
        Path p = env != null && !env.isEmpty() ? Path.of(env) : Check.repo().resolve(".build/debug/sigil");
        if (Files.isRegularFile(p) && Files.isExecutable(p)) return p;
        System.out.println("     (skipped: no sigil binary at " + p + "; set SIGIL_BIN or build it)");
        return null;
    }

    static final class Home {
        final Path sigil;
        final Path dir;

        Home(Path sigil) throws Exception {
            this.sigil = sigil;
            this.dir = World.tempDir();
        }

        Check.Run run(String stdin, String... args) throws Exception {
            List<String> cmd = new ArrayList<>(List.of(sigil.toString(), "--home", dir.resolve("home").toString()));
            cmd.addAll(List.of(args));
            return Check.run(cmd, stdin, 120);
        }

        String ok(String... args) throws Exception {
            Check.Run r = run(null, args);
            Check.eq(0, r.code, "sigil " + String.join(" ", args) + ": " + r.err);
            return r.out;
        }

        String issue(String... args) throws Exception {
            List<String> a = new ArrayList<>(List.of("issue", "--name", "t"));
            a.addAll(List.of(args));
            String token = ok(a.toArray(new String[0])).strip();
            Check.isTrue(token.startsWith("sgl_") && !token.contains("\n"), "one token on stdout");
            return token;
        }

        Path keyset(String audience) throws Exception {
            Path out = dir.resolve(audience + ".keyset.json");
            ok("keys", "export", "--audience", audience, "-o", out.toString());
            return out;
        }
    }

    static String guidOf(Verifier v, String token) throws Exception {
        return v.verify(token, null, System.currentTimeMillis() / 1000).guid();
    }

    static void testSwiftTokensVerifyInJava() throws Exception {
        Path bin = sigil();
        if (bin == null) return;
        Home h = new Home(bin);
        String all = h.issue("--audience", "billing", "--all");
        String ro = h.issue("--audience", "billing", "--read-only", "--never-expires");
        String custom = h.issue("--audience", "billing", "--scope", "devices.list", "--scope", "invoices.list", "--expires-in", "2h");
        String reports = h.issue("--audience", "reports", "--all");
        Keyset ks = Keyset.load(h.keyset("billing"));
        Check.eq("billing", ks.audience(), "audience");
        Verifier v = Verifier.of(ks, null);
        long now = System.currentTimeMillis() / 1000;
        VerifiedToken t = v.verify(all, Permission.write("devices.delete"), now);
        Check.eq(VerifiedToken.ScopeKind.ALL, t.scopeKind(), "all");
        Check.isTrue(ks.tokenKeys().containsKey(t.keyId()), "kid from the keyset");
        Check.eq(null, v.verify(ro, Permission.read("users.list"), now).validTo(), "never expires");
        Check.eq(Reason.SCOPE_NOT_GRANTED, VerifierTests.reason(v, ro, Permission.write("users.delete"), now), "read-only");
        VerifiedToken c = v.verify(custom, Permission.read("invoices.list"), now);
        Check.eq(List.of("devices.list", "invoices.list"), c.scope(), "custom scope in token order");
        Check.eq(c.validFrom() + 7200, c.validTo(), "2h");
        Check.eq(Reason.EXPIRED, VerifierTests.reason(v, custom, null, c.validTo() + 60), "expired");
        Check.eq(Reason.WRONG_AUDIENCE, VerifierTests.reason(v, reports, null, now), "another audience");
        // HKDF agrees: the exported K_aud is HKDF(master secret in the keyring, audience).
        Map<String, Object> ring = Check.json(h.dir.resolve("home/keyring.json"));
        for (Object o : Json.asArray(ring.get("token_keys"))) {
            Map<String, Object> key = Json.asObject(o);
            byte[] master = Base64Url.decode((String) key.get("secret"));
            Check.eq(Fixtures.toHex(ks.tokenKeys().get((String) key.get("kid"))),
                    Fixtures.toHex(Hkdf.audienceKey(master, "billing")), "K_aud of " + key.get("kid"));
        }
    }

    static void testSwiftRevocationListsLoadInJava() throws Exception {
        Path bin = sigil();
        if (bin == null) return;
        Home h = new Home(bin);
        String revoked = h.issue("--audience", "billing", "--all");
        String deactivated = h.issue("--audience", "billing", "--all");
        String kept = h.issue("--audience", "billing", "--all");
        Keyset ks = Keyset.load(h.keyset("billing"));
        Verifier plain = Verifier.of(ks, null);
        String gr = guidOf(plain, revoked);
        String gd = guidOf(plain, deactivated);
        h.ok("revoke", "--yes", gr);
        h.ok("deactivate", gd);
        Path first = h.dir.resolve("rev1.sgl");
        h.ok("revocations", "export", "-o", first.toString(), "--next-update", "1h");

        RevocationList list = RevocationList.verify(Files.readAllBytes(first), ks.revocationKeys(), RevocationList.DEFAULT_MAX_BYTES);
        Check.isTrue(ks.revocationKeys().containsKey(list.keyId()), "signed with the exported key");
        Check.eq(RevocationList.Status.REVOKED, list.status(gr), "revoked entry");
        Check.eq(RevocationList.Status.DEACTIVATED, list.status(gd), "deactivated entry");
        Check.eq(3600L, list.nextUpdate() - list.issuedAt(), "next_update 1h");

        RevocationStore store = new RevocationStore(ks.revocationKeys(), NoListPolicy.FAIL_CLOSED);
        store.load(first);
        Verifier v = Verifier.of(ks, store);
        long now = System.currentTimeMillis() / 1000;
        Check.eq(Reason.REVOKED, VerifierTests.reason(v, revoked, null, now), "revoked");
        Check.eq(Reason.DEACTIVATED, VerifierTests.reason(v, deactivated, null, now), "deactivated");
        Check.eq(null, VerifierTests.reason(v, kept, null, now), "kept");

        h.ok("activate", gd);
        Path second = h.dir.resolve("rev2.sgl");
        h.ok("revocations", "export", "-o", second.toString());
        Check.eq(RevocationStore.Loaded.INSTALLED, store.load(second), "a newer list");
        Check.isTrue(Long.compareUnsigned(store.list().sequence(), list.sequence()) > 0, "higher sequence");
        Check.eq(null, VerifierTests.reason(v, deactivated, null, now), "activated again");
        Check.eq(RevocationListException.Reason.ROLLBACK,
                Check.raises(RevocationListException.class, () -> store.load(first)).reason(), "the older list is a rollback");
    }

    static int exitCode(Reason r) {
        return r == null ? 0 : 10 + Arrays.asList(Reason.MALFORMED, Reason.WRONG_AUDIENCE, Reason.UNKNOWN_KEY,
                Reason.BAD_SIGNATURE, Reason.REVOKED, Reason.DEACTIVATED, Reason.NOT_YET_VALID, Reason.EXPIRED,
                Reason.SCOPE_NOT_GRANTED, Reason.REVOCATIONS_STALE).indexOf(r);
    }

    static void testJavaTokensVerifyInSwift() throws Exception {
        Path bin = sigil();
        if (bin == null) return;
        Home h = new Home(bin);
        h.issue("--audience", "billing", "--all"); // creates the keyring
        Path ksPath = h.keyset("billing");
        Keyset ks = Keyset.load(ksPath);
        Map.Entry<String, byte[]> k = ks.tokenKeys().entrySet().iterator().next();
        String kid = k.getKey();
        byte[] key = k.getValue();
        long now = World.NOW;
        byte[] g = World.randomGuid();
        String base = Fixtures.token(kid, key, "billing", g, now - 100, now + 100, 1, List.of());
        String ro = Fixtures.token(kid, key, "billing", g, now - 100, now + 100, 2, List.of());
        String[][] cases = {
            {base},
            {ro, "--permission", "devices.list", "--access", "read"},
            {ro, "--permission", "devices.delete", "--access", "write"},
            {Fixtures.token(kid, key, "billing", g, now - 100, now + 100, 3, List.of("devices.list")), "--permission",
                "devices.list", "--access", "write"},
            {Fixtures.token(kid, new byte[32], "billing", g, now - 100, now + 100, 1, List.of())},
            {Fixtures.token(kid, key, "reports", g, now - 100, now + 100, 1, List.of())},
            {Fixtures.token("nope", key, "billing", g, now - 100, now + 100, 1, List.of())},
            {Fixtures.token(kid, key, "billing", g, now - 100, now + 100, 3, List.of("b.x", "a.x"))},
            {Fixtures.token(kid, key, "billing", g, now + 1000, now + 2000, 1, List.of())},
            {Fixtures.token(kid, key, "billing", g, now - 2000, now - 1000, 1, List.of())},
            {base + "="},
            {base.substring(0, base.length() - 2) + "AA"},
        };
        Verifier v = Verifier.of(ks, null);
        for (int n = 0; n < cases.length; n++) {
            String token = cases[n][0];
            Permission p = null;
            if (cases[n].length > 1) p = cases[n][4].equals("write") ? Permission.write(cases[n][2]) : Permission.read(cases[n][2]);
            List<String> args = new ArrayList<>(List.of("verify", "--audience", "billing", "--keys", ksPath.toString(), "--at",
                    "2026-05-28T20:26:40Z")); // = World.NOW
            args.addAll(Arrays.asList(cases[n]).subList(1, cases[n].length));
            args.add("-");
            Check.Run r = h.run(token, args.toArray(new String[0]));
            Check.eq(exitCode(VerifierTests.reason(v, token, p, now)), r.code, "case " + n + ": " + r.out + r.err);
        }
    }
}
