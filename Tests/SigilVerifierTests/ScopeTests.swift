import SigilIssuer
import SigilVerifier
import Testing

@Suite("Scope semantics")
struct ScopeTests {
    static let listed = ["devices.list", "invoices.read", "users.get"]

    /// Permissions near the listed ones: same resource, other action, prefixes, extensions,
    /// resources nobody has heard of.
    static let probes: [String] =
        listed + [
            "devices.delete", "devices.lis", "devices.listx", "device.list", "devicess.list", "invoices.reads",
            "users.getall", "users.ge", "unknown.thing", "zzz.zzz", "a.b", "devices.list-all", "devices.list_",
        ]

    static func permissions() -> [Permission] {
        probes.flatMap { name in Access.allCases.compactMap { Permission(name, access: $0) } }
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var scope: Scope
        var grants: @Sendable (Permission) -> Bool
        var testDescription: String { scope.summary }
    }

    static let cases = [
        Case(scope: .all) { _ in true },
        Case(scope: .readOnly) { $0.access == .read },
        Case(scope: .custom(listed)) { listed.contains($0.name) },
        Case(scope: .custom(["devices.list"])) { $0.name == "devices.list" },
        Case(scope: .custom(TestKeys.pairs256)) { TestKeys.pairs256.contains($0.name) },
    ]

    @Test("The verifier grants exactly what the scope's definition grants", arguments: cases)
    func grants(_ c: Case) throws {
        let token = try TestKeys.mint(try TestKeys.claims(validTo: nil, scope: c.scope))
        let verifier = try TestKeys.verifier()
        var permissions = Self.permissions()
        if case .custom(let pairs) = c.scope {
            permissions += pairs.flatMap { p in Access.allCases.compactMap { Permission(p, access: $0) } }
        }
        #expect(permissions.count >= 32)
        for permission in permissions {
            let expected = c.grants(permission)
            let result = Result { () throws(VerificationError) in
                try verifier.verify(token, for: permission, at: TestKeys.now)
            }
            switch result {
            case .success: #expect(expected, "\(permission.name) \(permission.access) was granted")
            case .failure(let error):
                #expect(!expected, "\(permission.name) \(permission.access) was refused")
                #expect(error.reason == .scopeNotGranted)
            }
            // The allocation-free check in the verifier and Scope.grants agree.
            #expect(c.scope.grants(permission) == expected)
        }
    }

    @Test("Without a permission, any scope verifies", arguments: cases)
    func noPermission(_ c: Case) throws {
        let token = try TestKeys.mint(try TestKeys.claims(scope: c.scope))
        #expect(
            try TestKeys.verifier().verify(token, for: nil, at: TestKeys.now).scopeKind.rawValue == c.scope.kindCode)
    }

    @Test(
        "Permission names must be resource.action with valid parts",
        arguments: [
            "", "devices", ".list", "devices.", "Devices.list", "1devices.list", "devices.list.all", "devices list",
            String(repeating: "a", count: 33) + ".list", "devices." + String(repeating: "a", count: 33),
        ])
    func invalidPermission(_ name: String) {
        #expect(Permission(name, access: .read) == nil)
        #expect(!Scope.isValidPair(name))
    }

    @Test("Permission(resource:action:) joins the parts with a dot")
    func permissionParts() throws {
        let p = try #require(Permission(resource: "devices", action: "list", access: .read))
        #expect(p.name == "devices.list")
        #expect(Permission(resource: "devices", action: "", access: .read) == nil)
        #expect(Scope.isValidPart("a") && Scope.isValidPart("a0_-") && !Scope.isValidPart("_a"))
    }

    @Test("Scope kind codes and summaries follow the format")
    func kinds() {
        #expect(Scope.all.kindCode == 1)
        #expect(Scope.readOnly.kindCode == 2)
        #expect(Scope.custom(["a.b"]).kindCode == 3)
        #expect(Scope.readOnly.summary == "read-only")
        #expect(Scope.custom(["a.b", "c.d"]).summary == "a.b,c.d")
    }
}
