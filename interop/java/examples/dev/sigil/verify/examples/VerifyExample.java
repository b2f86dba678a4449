package dev.sigil.verify.examples;
import dev.sigil.verify.*;
import java.nio.file.Path;

public final class VerifyExample {
  public static String check(Path keysetFile, Path listFile, String token) throws Exception {
    Keyset keyset = Keyset.load(keysetFile);
    var store = new RevocationStore(keyset.revocationKeys(), RevocationStore.StalePolicy.KEEP_SERVING,
        RevocationStore.NoListPolicy.FAIL_CLOSED);
    store.load(listFile);  // or: new RevocationFollower(URI.create(".../v1/revocations"), store).start()
    try {
      return "valid " + Verifier.of(keyset, store).verify(token, Permission.of("invoices.read", Permission.Access.READ)).guid();
    } catch (VerificationException e) {
      return "refused: " + e.reason().code();
    }
  }
}
