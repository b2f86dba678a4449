import SigilIssuer
import SigilVerifier

/// What a use-case suite starts from: a fresh ``TempHome`` on the store under test, an issuer
/// on it (created with the development keyring and example catalog), and the actor `alice`.
///
/// ```swift
/// @Suite("Issuing tokens", .bothStores)
/// struct IssueTests: IssuerSuite {
///     let fixture: IssuerFixture
///     init() throws { fixture = try IssuerFixture() }
/// }
/// ```
struct IssuerFixture {
    let temp: TempHome
    let issuer: Issuer
    let alice: Actor

    /// Makes the home, opens the issuer and seeds `records`.
    ///
    /// - Parameter records: rows put in the ledger as they are (``Issuer/insertForTesting(_:)``).
    /// - Throws: what opening the home or seeding it throws.
    init(seeding records: [TokenRecord] = []) throws {
        temp = try TempHome()
        issuer = try temp.issuer()
        alice = try Actor(name: "alice")
        if !records.isEmpty { try issuer.insertForTesting(records) }
    }
}

/// A suite built on an ``IssuerFixture``: its home, issuer and actor read as its own.
protocol IssuerSuite {
    var fixture: IssuerFixture { get }
}

extension IssuerSuite {
    var temp: TempHome { fixture.temp }
    var issuer: Issuer { fixture.issuer }
    var alice: Actor { fixture.alice }
}
