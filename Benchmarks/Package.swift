// swift-tools-version:6.0
import PackageDescription

// sigil-bench lives in its own package so jwt-kit (and swift-crypto, BoringSSL, X509 with it)
// never enters the main package's dependency graph.
let strict: [SwiftSetting] = [
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "SigilBenchmarks",
    dependencies: [
        .package(name: "Sigil", path: ".."),
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.7.1"),
    ],
    targets: [
        // The bare-crypto limits (HMAC + memcmp, Ed25519 verify) and the malloc counter, in C.
        .target(name: "CBenchSupport", linkerSettings: [.linkedLibrary("crypto")]),
        .executableTarget(
            name: "sigil-bench",
            dependencies: [
                "CBenchSupport",
                .product(name: "SigilVerifier", package: "Sigil"),
                .product(name: "SigilIssuer", package: "Sigil"),
                .product(name: "JWTKit", package: "jwt-kit"),
            ],
            swiftSettings: strict),
    ]
)
