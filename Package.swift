// swift-tools-version:6.0
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
        // A bounded HTTP fetch (size and total time) over FoundationNetworking: the CLI's pull and
        // remote mode, and Server/'s SigilHummingbird follower share it.
        .library(name: "SigilFetch", targets: ["SigilFetch"]),
    ],
    // Only the CLI's argument parser: Hummingbird and everything of a server stay in Server/
    // (SigilHummingbird included), so a service depending on SigilVerifier resolves none of it.
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0")
    ],
    targets: [
        .systemLibrary(
            name: "COpenSSL", pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"]), .brew(["openssl@3"])]),
        .target(name: "SigilVerifier", dependencies: ["COpenSSL"], swiftSettings: strict),
        .target(name: "SigilFetch", swiftSettings: strict),
        // Issuer-only crypto (HKDF, Ed25519 signing, RAND_bytes): the verifier never links it.
        .target(name: "SigilIssuerCrypto", dependencies: ["COpenSSL", "SigilVerifier"], swiftSettings: strict),
        // The ledger's database: the system's libsqlite3 (libsqlite3-dev), no Swift package.
        .systemLibrary(
            name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"]), .brew(["sqlite"])]),
        // The shared ledger for several issuer hosts: the system's libpq (libpq-dev), no Swift
        // package, so the CLI and sigil-server share one store layer (docs/DESIGN.md).
        .systemLibrary(
            name: "CPostgres", pkgConfig: "libpq", providers: [.apt(["libpq-dev"]), .brew(["libpq"])]),
        .target(
            name: "SigilIssuer", dependencies: ["SigilIssuerCrypto", "SigilVerifier", "CSQLite", "CPostgres"],
            swiftSettings: strict),
        .executableTarget(
            name: "sigil",
            dependencies: [
                "SigilIssuer", "SigilVerifier", "SigilFetch",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict),
        // The Swift conformance runner (the reference scripts/conformance.sh compares every language's
        // runner with) and the generator of its cases, built with the issuer's own minting and signing.
        .executableTarget(
            name: "sigil-conformance",
            dependencies: [
                "SigilVerifier", "SigilIssuer", "SigilIssuerCrypto",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "ConformanceTests", dependencies: ["sigil-conformance", "SigilVerifier", "SigilIssuer"],
            swiftSettings: strict),
        .testTarget(
            name: "SigilVerifierTests", dependencies: ["SigilVerifier", "SigilIssuer", "SigilIssuerCrypto"],
            swiftSettings: strict),
        // README's service snippet and every doc-comment example, compiled (and checked against the text).
        .testTarget(name: "DocExamplesTests", dependencies: ["SigilVerifier", "SigilIssuer"], swiftSettings: strict),
        .testTarget(
            name: "SigilIssuerTests", dependencies: ["SigilIssuer", "SigilVerifier", "SigilTestSupport"],
            swiftSettings: strict),
        // How every suite runs the built `sigil` binary (and the tools around it).
        .target(
            name: "SigilTestSupport", dependencies: ["SigilIssuer", "SigilVerifier"], path: "Tests/SigilTestSupport",
            swiftSettings: strict),
        // `sigil` itself for its Support types' unit tests (the progress line); the rest runs the binary.
        .testTarget(
            name: "sigilTests", dependencies: ["sigil", "SigilIssuer", "SigilVerifier", "SigilTestSupport"],
            swiftSettings: strict),
        .testTarget(
            name: "HardeningTests", dependencies: ["SigilIssuer", "SigilVerifier", "SigilFetch", "SigilTestSupport"],
            swiftSettings: strict),
    ]
)
