// Verify the token on stdin: node examples/verify-token.js KEYSET LIST (run by the tests).
import { readFileSync } from "node:fs";
import { Permission, RevocationStore, Verifier } from "../sigil.js";
import { loadFile, readKeyset } from "../node.js";
const keyset = readKeyset(process.argv[2]); // from `sigil keys export --audience billing`
const store = new RevocationStore(keyset.revocationKeys, { whenNoList: "fail_closed" });
await loadFile(store, process.argv[3]); // or keep it current: new RevocationFollower(url, store).start()
const verifier = await Verifier.fromKeyset(keyset, { revocations: store });
const token = readFileSync(0, "utf8").split("\n")[0].trim();
const result = await verifier.verify(token, new Permission("devices.list", "read"));
console.log(result.valid ? `valid ${result.claims.guid}` : `refused ${result.reason}`); // never the token
