// Verify the token on stdin: java -cp sigil-verify.jar VerifyToken.java KEYSET LIST (run by the tests).
import dev.sigil.verify.*;
import java.nio.file.Path;

public class VerifyToken {
    public static void main(String[] args) throws Exception {
        Keyset keyset = Keyset.load(Path.of(args[0]));  // from `sigil keys export --audience billing`
        var store = new RevocationStore(keyset.revocationKeys(), RevocationStore.NoListPolicy.FAIL_CLOSED);
        store.load(Path.of(args[1]));  // or keep it current: new RevocationFollower(url, store).start()
        try {
            var token = Verifier.of(keyset, store)
                    .verify(new String(System.in.readAllBytes()).strip(), Permission.read("devices.list"));
            System.out.println("valid " + token.guid());
        } catch (VerificationException e) {
            System.out.println("refused " + e.reason().code());  // the reason code; never the token
        }
    }
}
