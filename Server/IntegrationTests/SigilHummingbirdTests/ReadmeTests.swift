import Foundation
import Testing

/// README's SigilHummingbird snippet and the doc-comment examples of SigilHummingbird stay
/// compiled: their code is in ReadmeHummingbird.swift and DocExamples.swift.
@Suite("SigilHummingbird documentation")
struct ReadmeTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

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
        // The section's one Swift block (the Package.swift lines live in Examples/HummingbirdService).
        let open = try #require(rest.range(of: "```swift\n"))
        let close = try #require(rest[open.upperBound...].range(of: "\n```\n"))
        let snippet = rest[open.upperBound..<close.lowerBound]
        let file = try Self.text("Server/IntegrationTests/SigilHummingbirdTests/ReadmeHummingbird.swift")
        #expect(Self.collapsed(file).contains(Self.collapsed(snippet)))
        #expect(snippet.contains("RevocationFollower("))
    }

    @Test("Every usage example in SigilHummingbird's doc comments is compiled in DocExamples.swift")
    func docCommentExamples() throws {
        let compiled = Self.collapsed(
            try Self.text("Server/IntegrationTests/SigilHummingbirdTests/DocExamples.swift"))
        let folder = Self.root.appendingPathComponent("Server/Sources/SigilHummingbird")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter {
            // BoundedHTTP is internal (a copy of the CLI's); its example is not public usage.
            $0.hasSuffix(".swift") && $0 != "BoundedHTTP.swift"
        }
        var blocks: [(String, String)] = []
        for file in files.sorted() {
            var current: [String]? = nil
            for line in try Self.text("Server/Sources/SigilHummingbird/" + file).split(separator: "\n") {
                let trimmed = line.drop { $0 == " " }
                guard trimmed.hasPrefix("///") else { continue }
                let content = trimmed.dropFirst(3).drop { $0 == " " }
                if current == nil, content == "```swift" {
                    current = []
                } else if let lines = current, content == "```" {
                    blocks.append((file, lines.joined(separator: "\n")))
                    current = nil
                } else if current != nil {
                    current?.append(String(trimmed.dropFirst(3)))
                }
            }
        }
        #expect(blocks.count >= 9)
        for (file, code) in blocks {
            #expect(compiled.contains(Self.collapsed(code)), "\(file): \(code)")
        }
    }
}
