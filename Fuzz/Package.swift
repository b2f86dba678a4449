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
        .package(name: "Sigil", path: ".."),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
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
        // The CLI's parsers live in the `sigil` executable, which cannot be imported. The
        // files under CLISources are symbolic links to Sources/sigil/Support/*.swift, so the
        // harness compiles the real code, not a copy.
        .executableTarget(
            name: "fuzz-cli-parsers",
            dependencies: [
                "FuzzSupport", .product(name: "SigilVerifier", package: "Sigil"),
                .product(name: "SigilIssuer", package: "Sigil"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
    ]
)
