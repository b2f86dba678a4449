import Foundation
import Testing

/// README's SigilHummingbird snippet and the doc-comment examples of SigilHummingbird stay
/// compiled: their code is in ReadmeHummingbird.swift and DocExamples.swift.
@Suite("SigilHummingbird documentation")
struct ReadmeTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func text(_ relativePath: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(relativePath), encoding: .utf8)
    }

    static func collapsed(_ text: some StringProtocol) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.filter { !$0.properties.isWhitespace }))
    }

    @Test("README's SigilHummingbird snippet is the body of readmeHummingbirdService")
    func readmeSnippet() throws {
        let readme = try Self.text("README.md")
        let section = try #require(readme.range(of: "### Hummingbird services: SigilHummingbird"))
        let rest = readme[section.upperBound...]
        let first = try #require(rest.range(of: "```swift\n"))
        let afterFirst = rest[first.upperBound...]
        let second = try #require(afterFirst.range(of: "```swift\n"))
        let close = try #require(afterFirst[second.upperBound...].range(of: "\n```\n"))
        let snippet = afterFirst[second.upperBound..<close.lowerBound]
        let file = try Self.text("Integrations/HummingbirdTests/Tests/SigilHummingbirdTests/ReadmeHummingbird.swift")
        #expect(Self.collapsed(file).contains(Self.collapsed(snippet)))
        #expect(snippet.contains("RevocationFollower("))
    }
}
