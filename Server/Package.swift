// swift-tools-version:6.0
import PackageDescription

// sigil-server lives in its own package so Hummingbird (and swift-nio, swift-log,
// swift-service-lifecycle with it) never enters the main package's dependency graph.
// From Sigil it takes the SigilIssuer and SigilVerifier products: every rule stays there.
let strict: [SwiftSetting] = [
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "SigilServer",
    products: [
        .library(name: "SigilServer", targets: ["SigilServer"]),
        .executable(name: "sigil-server", targets: ["sigil-server"]),
        // For Hummingbird 2 services: bearer middleware, request context, per-route permission and
        // the revocation follower. Here, not in the root package, so that a service depending on
        // SigilVerifier alone never resolves Hummingbird (docs/DESIGN.md).
        .library(name: "SigilHummingbird", targets: ["SigilHummingbird"]),
    ],
    dependencies: [
        .package(name: "Sigil", path: ".."),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.60.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.20.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.0.0"),
        // GET /metrics (docs/OPERATIONS.md): swift-metrics' API over a Prometheus registry. Here only,
        // never in the root package: services that verify tokens do not pull them in.
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        // Single sign-on (docs/MEMBERS.md): the ID token's JWS and the provider's JWKS (RS256, ES256).
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.0.0"),
        // The sealed sign-in flow cookie (AES-GCM, HKDF): the same swift-crypto jwt-kit uses.
        .package(url: "https://github.com/apple/swift-crypto.git", "4.1.0"..<"6.0.0"),
    ],
    targets: [
        // What a service links besides SigilVerifier: never SigilIssuer or SigilServer.
        .target(
            name: "SigilHummingbird",
            dependencies: [
                .product(name: "SigilVerifier", package: "Sigil"),
                .product(name: "SigilFetch", package: "Sigil"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict),
        .target(
            name: "SigilServer",
            dependencies: [
                .product(name: "SigilIssuer", package: "Sigil"),
                .product(name: "SigilVerifier", package: "Sigil"),
                .product(name: "SigilFetch", package: "Sigil"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            // Resources/openapi.yaml is a symbolic link to docs/openapi.yaml: one file, compiled
            // into the binary (no bundle to ship); the tests check the served bytes equal it.
            // The web console's files are compiled in the same way (names must be unique).
            resources: [.embedInCode("Resources/openapi.yaml")]
                + [
                    "index.html", "console.css", "app.js", "api.js", "ui.js", "tokens.js", "create.js",
                    "detail.js", "audit.js", "sso.js", "members.js", "favicon.svg",
                ].map { Resource.embedInCode("Resources/console/\($0)") },
            swiftSettings: strict),
        // One glibc setting the Glibc module does not expose (mallopt); see SigilServerCommand.
        .target(name: "CMallocTuning"),
        .executableTarget(
            name: "sigil-server",
            dependencies: [
                "SigilServer",
                "CMallocTuning",
                .product(name: "SigilIssuer", package: "Sigil"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict),
        // SigilHummingbird's tests (bearer middleware, revocation follower) with real servers on
        // 127.0.0.1 (scripts/hummingbird-test.sh).
        .testTarget(
            name: "SigilHummingbirdTests",
            dependencies: [
                "SigilHummingbird",
                .product(name: "SigilVerifier", package: "Sigil"),
                // Test-only: mints tokens and signs lists the way the issuer does.
                .product(name: "SigilIssuer", package: "Sigil"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "IntegrationTests/SigilHummingbirdTests",
            swiftSettings: strict),
        // sigil-server's router in memory (HummingbirdTesting): the error mapping, query parsing,
        // sessions, the failed-authentication limiter and the broadcaster (scripts/hummingbird-test.sh).
        .testTarget(
            name: "SigilServerTests",
            dependencies: [
                "SigilServer",
                .product(name: "SigilIssuer", package: "Sigil"),
                .product(name: "SigilVerifier", package: "Sigil"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                // Test-only: ES256 keys and tokens made in the test for the ID-token verifier.
                .product(name: "JWTKit", package: "jwt-kit"),
            ],
            path: "IntegrationTests/SigilServerTests",
            swiftSettings: strict),
    ]
)
