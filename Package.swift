// swift-tools-version:6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "Sigil",
    // Linux only: built and tested on Linux alone (README, "Platforms"), so no macOS is claimed.
    products: [
        // Services depend on this product only: it pulls in nothing but libcrypto.
        .library(name: "SigilVerifier", targets: ["SigilVerifier"]),
        .library(name: "SigilIssuer", targets: ["SigilIssuer"]),
        .executable(name: "sigil", targets: ["sigil"]),
        // Bearer middleware and revocation follower for Hummingbird 2 services. Empty unless the
        // package is used with the "Hummingbird" trait (README, "Services").
        .library(name: "SigilHummingbird", targets: ["SigilHummingbird"]),
    ],
    // Off by default: a package that does not enable it resolves none of the trait-guarded
    // dependencies below (README, Design: measured with Swift 6.3.1).
    traits: [
        .trait(name: "Hummingbird", description: "Builds SigilHummingbird (pulls in Hummingbird 2 and swift-nio)."),
        .default(enabledTraits: []),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // Used only under the "Hummingbird" trait, by SigilHummingbird.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.0.0"),
    ],
    targets: [
        .systemLibrary(
            name: "COpenSSL", pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"]), .brew(["openssl@3"])]),
        .target(name: "SigilVerifier", dependencies: ["COpenSSL"], swiftSettings: strict),
        // Every source is inside `#if Hummingbird`: without the trait this is an empty module.
        .target(
            name: "SigilHummingbird",
            dependencies: [
                "SigilVerifier",
                .product(name: "Hummingbird", package: "hummingbird", condition: .when(traits: ["Hummingbird"])),
                .product(name: "Logging", package: "swift-log", condition: .when(traits: ["Hummingbird"])),
                .product(
                    name: "ServiceLifecycle", package: "swift-service-lifecycle",
                    condition: .when(traits: ["Hummingbird"])),
            ],
            swiftSettings: strict),
        // Issuer-only crypto (HKDF, Ed25519 signing, RAND_bytes): the verifier never links it.
        .target(name: "SigilIssuerCrypto", dependencies: ["COpenSSL", "SigilVerifier"], swiftSettings: strict),
        // The ledger's database: the system's libsqlite3 (libsqlite3-dev), no Swift package.
        .systemLibrary(
            name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"]), .brew(["sqlite"])]),
        // The shared ledger for several issuer hosts: the system's libpq (libpq-dev), no Swift
        // package, so the CLI and sigil-server share one store layer (README, Design).
        .systemLibrary(
            name: "CPostgres", pkgConfig: "libpq", providers: [.apt(["libpq-dev"]), .brew(["libpq"])]),
        .target(
            name: "SigilIssuer", dependencies: ["SigilIssuerCrypto", "SigilVerifier", "CSQLite", "CPostgres"],
            swiftSettings: strict),
        .executableTarget(
            name: "sigil",
            dependencies: [
                "SigilIssuer", "SigilVerifier",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "SigilVerifierTests", dependencies: ["SigilVerifier", "SigilIssuer", "SigilIssuerCrypto"],
            swiftSettings: strict),
        // README's service snippet and every doc-comment example, compiled (and checked against the text).
        .testTarget(name: "DocExamplesTests", dependencies: ["SigilVerifier", "SigilIssuer"], swiftSettings: strict),
        .testTarget(name: "SigilIssuerTests", dependencies: ["SigilIssuer", "SigilVerifier"], swiftSettings: strict),
        // How every suite runs the built `sigil` binary (and the tools around it).
        .target(
            name: "SigilTestSupport", dependencies: ["SigilIssuer", "SigilVerifier"], path: "Tests/SigilTestSupport",
            swiftSettings: strict),
        .testTarget(
            name: "sigilTests", dependencies: ["SigilIssuer", "SigilVerifier", "SigilTestSupport"],
            swiftSettings: strict),
        .testTarget(
            name: "HardeningTests", dependencies: ["SigilIssuer", "SigilVerifier", "SigilTestSupport"],
            swiftSettings: strict),
    ]
)
