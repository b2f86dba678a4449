// swift-tools-version:6.1
import PackageDescription

// The tests of SigilHummingbird, in a package of their own that uses Sigil the way a service
// does: with the "Hummingbird" trait enabled. Sigil's own `swift build`/`swift test` stay
// without Hummingbird (README, Design). scripts/test.sh runs this package as a stage.
let package = Package(
    name: "SigilHummingbirdTests",
    dependencies: [
        .package(name: "Sigil", path: "../..", traits: ["Hummingbird"]),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.0.0"),
    ],
    targets: [
        .testTarget(
            name: "SigilHummingbirdTests",
            dependencies: [
                .product(name: "SigilHummingbird", package: "Sigil"),
                .product(name: "SigilVerifier", package: "Sigil"),
                // Test-only: mints tokens and signs lists the way the issuer does.
                .product(name: "SigilIssuer", package: "Sigil"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: [
                .enableUpcomingFeature("InternalImportsByDefault"),
                .enableUpcomingFeature("ExistentialAny"),
                .enableUpcomingFeature("MemberImportVisibility"),
            ])
    ]
)
