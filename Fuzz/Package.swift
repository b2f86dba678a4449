// swift-tools-version:6.0
// libFuzzer harnesses for Sigil. Its own package, so nothing here enters the main package
// graph. Build and run through scripts/fuzz.sh, which passes `-sanitize=fuzzer,address` to
// every target (Sigil's included) so the library code is instrumented for coverage.
import PackageDescription

let package = Package(
    name: "SigilFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        // Named so the products resolve whatever the checkout folder is called.
        .package(name: "Sigil", path: "..")
    ],
    targets: [
        // Declares LLVMFuzzerRunDriver: SwiftPM supplies `main`, so each harness hands
        // control to libFuzzer from its main.swift.
        .target(name: "CFuzzDriver"),
        .target(
            name: "FuzzSupport",
            dependencies: [
                "CFuzzDriver", .product(name: "SigilVerifier", package: "Sigil"),
                .product(name: "SigilIssuer", package: "Sigil"),
            ]),
        .executableTarget(
            name: "fuzz-token",
            dependencies: [
                "FuzzSupport", .product(name: "SigilVerifier", package: "Sigil"),
                .product(name: "SigilIssuer", package: "Sigil"),
            ]),
        .executableTarget(
            name: "fuzz-revocations",
            dependencies: [
                "FuzzSupport", .product(name: "SigilVerifier", package: "Sigil"),
                .product(name: "SigilIssuer", package: "Sigil"),
            ]),
        .executableTarget(
            name: "fuzz-keyset-ledger",
            dependencies: [
                "FuzzSupport", .product(name: "SigilVerifier", package: "Sigil"),
                .product(name: "SigilIssuer", package: "Sigil"),
            ]),
        // The parsers the CLI uses live in SigilIssuer (TimeText, Issuer's GUID resolution).
        .executableTarget(
            name: "fuzz-cli-parsers",
            dependencies: [
                "FuzzSupport", .product(name: "SigilVerifier", package: "Sigil"),
                .product(name: "SigilIssuer", package: "Sigil"),
            ]),
    ]
)
