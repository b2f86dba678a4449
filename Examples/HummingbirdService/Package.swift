// swift-tools-version:6.0
import PackageDescription

// An example service in its own package. From Sigil it takes SigilVerifier, and from Sigil's
// Server/ package SigilHummingbird (the bearer middleware and the revocation follower): no
// issuer, no ledger, no keyring. swift-log and swift-nio already come with Hummingbird; they
// are named here because the service imports them directly. Linux only, like Sigil (README).
let package = Package(
    name: "HummingbirdService",
    dependencies: [
        .package(name: "Sigil", path: "../.."),
        .package(name: "SigilServer", path: "../../Server"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.60.0"),
    ],
    targets: [
        .executableTarget(
            name: "devices-service",
            dependencies: [
                .product(name: "SigilVerifier", package: "Sigil"),
                .product(name: "SigilHummingbird", package: "SigilServer"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Sources/DevicesService",
            swiftSettings: [
                .enableUpcomingFeature("InternalImportsByDefault"),
                .enableUpcomingFeature("ExistentialAny"),
                .enableUpcomingFeature("MemberImportVisibility"),
            ])
    ]
)
