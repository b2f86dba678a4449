import SigilVerifier

// Every usage example in SigilVerifier's doc comments, verbatim, so that each compiles;
// DocExamplesTests checks that every ```swift block in Sources/ still appears here.
// `bearer`, `store`, `keyset`, `id` and `token` are the names the examples assume.

enum DeviceRoutes {
    static let listDevices = Permission(literal: "devices.list", access: .read)
}

func verifierServiceExample(bearer: String) throws -> VerifiedToken {
    let sigil = try VerifierService(
        keysetPath: "/etc/billing/keyset.json", revocationsPath: "/etc/billing/revocations.sgl",
        whenNoList: .failClosed)
    sigil.start()
    defer { sigil.stop() }
    let token = try sigil.verify(bearer, for: Routes.deleteDevice)
    return token
}

func verifierExample(bearer: String, store: RevocationStore) throws -> VerifiedToken {
    let keyset = try Keyset(contentsOf: "/etc/billing/keyset.json")
    let verifier = try Verifier(keyset: keyset, revocations: store)
    let token = try verifier.verify(bearer, for: Permission(literal: "invoices.read", access: .read))
    return token
}

func verifyExample(bearer: String, verifier: Verifier) throws -> VerifiedToken {
    let token = try verifier.verify(bearer, for: Routes.deleteDevice)
    return token
}

func keysetExample() throws -> Verifier {
    let keyset = try Keyset(contentsOf: "/etc/billing/keyset.json")
    let verifier = try Verifier(keyset: keyset)
    return verifier
}

func keysetFileExample() throws -> Keyset {
    let keyset = try Keyset(contentsOf: "/etc/billing/keyset.json")
    return keyset
}

func revocationStoreExample(keyset: Keyset) throws -> Verifier {
    let store = RevocationStore(keys: keyset.revocationKeys) { event in print("revocations: \(event)") }
    try store.load(path: "/etc/billing/revocations.sgl")
    let verifier = try Verifier(keyset: keyset, revocations: store)
    return verifier
}

func revocationWatcherExample(store: RevocationStore) -> Task<Void, Never> {
    let watcher = RevocationWatcher(
        path: "/etc/billing/revocations.sgl", store: store,
        interval: .seconds(5))
    let task = Task { await watcher.run() }  // cancel the task to stop
    return task
}

func revocationListExample(keyset: Keyset, id: TokenID) throws {
    let list = try RevocationList(
        verifying: try FileBytes.read(path: "revocations.sgl"),
        keys: keyset.revocationKeys)
    if list.status(of: id) == .revoked { print("revoked") }
}

func fileBytesExample() throws -> [UInt8] {
    let bytes = try FileBytes.read(path: "/etc/billing/revocations.sgl", maxBytes: 64 << 20)
    return bytes
}

func tokenClaimsExample(id: TokenID) throws -> [UInt8] {
    let claims = try TokenClaims(
        keyID: "k1", audience: "billing", id: id,
        validFrom: 1_767_225_600, validTo: nil, scope: .readOnly)
    let body = claims.body()  // the canonical bytes the tag is computed over
    return body
}

func tokenIDExample() {
    let id = TokenID(uuidString: "0b0e5c6a-2f4d-4c1e-9a53-5d3f1e2b7c90")
    print(id?.description ?? "not a GUID")
}

func base64URLExample() -> [UInt8]? {
    let text = Base64URL.encode([0xfb, 0xff])  // "-_8"
    let bytes = Base64URL.decode(text)  // [0xfb, 0xff]
    return bytes
}

func scopeExample() {
    let scope = Scope.custom(["devices.delete", "devices.list"])
    print(scope.grants(Permission(literal: "devices.list", access: .read)))  // true
}

func refusalCode(_ token: String, _ verifier: Verifier) -> String? {
    do {
        _ = try verifier.verify(token)
        return nil
    } catch {
        return error.reason.rawValue  // log this, never the token itself
    }
}

func revocationListUpdateExample(keyset: Keyset, downloaded: [UInt8]) throws {
    let held = RevocationListUpdate.Held(
        bytes: try FileBytes.read(path: "revocations.sgl"),
        keys: keyset.revocationKeys)
    let incoming = try RevocationList(verifying: downloaded, keys: keyset.revocationKeys)
    switch RevocationListUpdate.decide(incoming, over: held) {
    case .install, .replaceUnverified, .replaceForced: print("install #\(incoming.sequence)")
    case .unchanged: break
    default: print("refused")
    }
}

func revocationListDecideExample(incoming: RevocationList, inForce: RevocationList) throws {
    let decision = RevocationListUpdate.decide(incoming, over: .verified(inForce))
    if let refusal = decision.refusal { throw refusal }
}

func ipAddressExample() -> (Bool, Bool, String?) {
    let local = IPAddress.isLoopback(host: "127.0.0.1")  // true
    let named = IPAddress.isLoopback(host: "127.0.0.1.evil.example")  // false
    let key = IPAddress("2001:db8::7")?.limitKey  // "2001:db8:0:0::/64"
    return (local, named, key)
}

func ipAddressRangeExample() -> Bool? {
    let proxies = IPAddressRange("10.0.0.0/8")
    let inside = IPAddress("10.1.2.3").map { proxies?.contains($0) == true }  // true
    return inside
}

func bearerCredentialsExample() {
    switch BearerCredentials(authorization: ["Bearer sgl_…"]) {
    case .bearer(let token): print(token.count)
    case .absent, .repeated, .malformed: print("refused")
    }
}

func revocationDeltaExample(downloaded: [UInt8], inForce: RevocationList, keyset: Keyset) throws {
    let delta = try RevocationDelta(parsing: downloaded)
    let next = try delta.applied(to: inForce, keys: keyset.revocationKeys)
    print("list \(next.sequence): \(delta.changes.count) changes")
}

func withEntryBytesExample(list: RevocationList) -> Int {
    let revoked = list.withEntryBytes { entries in
        stride(from: 16, to: entries.count, by: RevocationList.entrySize).filter { entries[$0] == 2 }.count
    }
    return revoked
}

func revocationListVerifyExample(
    downloaded: [UInt8], held: RevocationListUpdate.Held, keyset: Keyset
) throws -> RevocationList {
    let incoming = try RevocationListUpdate.verify(downloaded, over: held, keys: keyset.revocationKeys)
    return incoming
}
