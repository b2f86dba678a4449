import Foundation
import SigilIssuer
import SigilVerifier
import Testing

/// Keeps README's service snippet and the doc-comment examples compiling: this target holds
/// their code, and these tests fail when the text in README.md or in a doc comment drifts
/// from it.
@Suite("Documentation examples")
struct DocExamplesTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func text(_ relativePath: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(relativePath), encoding: .utf8)
    }

    /// The code of every ```` ```swift ```` block in `///` comments of the Swift files under `folder`.
    static func docBlocks(under folder: String) throws -> [(file: String, code: String)] {
        let base = root.appendingPathComponent(folder)
        let files = try #require(FileManager.default.enumerator(atPath: base.path)).compactMap { $0 as? String }
            .filter { $0.hasSuffix(".swift") }.sorted()
        var blocks: [(String, String)] = []
        for file in files {
            var current: [String]? = nil
            for line in try text(folder + "/" + file).split(separator: "\n", omittingEmptySubsequences: false) {
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
        return blocks
    }

    /// `text` without any whitespace, so line wrapping and indentation do not matter.
    static func collapsed(_ text: String) -> String {
        String(text.unicodeScalars.filter { !$0.properties.isWhitespace })
    }

    @Test("Every usage example in SigilVerifier's doc comments is compiled in DocExamples.swift")
    func docCommentExamplesCompile() throws {
        let compiled =
            Self.collapsed(try Self.text("Tests/DocExamplesTests/DocExamples.swift"))
            + Self.collapsed(try Self.text("Tests/DocExamplesTests/ReadmeService.swift"))
        let blocks = try Self.docBlocks(under: "Sources/SigilVerifier")
        #expect(blocks.count >= 15)
        for block in blocks {
            #expect(compiled.contains(Self.collapsed(block.code)), "\(block.file): \(block.code)")
        }
    }

    @Test("README's service snippet is ReadmeService.swift, character for character")
    func readmeSnippetMatches() throws {
        let readme = try Self.text("README.md")
        let section = try #require(readme.range(of: "## Using the verifier in a service"))
        let rest = readme[section.upperBound...]
        let open = try #require(rest.range(of: "```swift\n"))
        let close = try #require(rest[open.upperBound...].range(of: "\n```\n"))
        let snippet = rest[open.upperBound..<close.lowerBound]
        let file = try Self.text("Tests/DocExamplesTests/ReadmeService.swift")
        #expect(snippet + "\n" == file)
    }

    /// Issue #23: README's "Verifying in your language" blocks are cut from the examples CI runs:
    /// each line of a block is a line of that language's example (indentation aside), in the
    /// example's order, so the README cannot show a call the example no longer makes.
    @Test("README's examples in other languages are lines of the examples CI runs", .bug("#23"))
    func readmeLanguageBlocksAreCutFromExamples() throws {
        let examples = [
            "go": "interop/go/examples/verify_token/main.go",
            "typescript": "interop/typescript/examples/verify-token.ts",
            "java": "interop/java/examples/VerifyToken.java",
            "python": "interop/python/examples/verify_token.py",
        ]
        let readme = try Self.text("README.md")
        let start = try #require(readme.range(of: "## Verifying in your language"))
        let end = try #require(readme[start.upperBound...].range(of: "\n## "))
        var blocks: [String: [String]] = [:]
        var language: String? = nil
        for line in readme[start.upperBound..<end.lowerBound].split(separator: "\n") {
            if line.hasPrefix("```") {
                language = language == nil ? String(line.dropFirst(3)) : nil
                if let language { blocks[language] = [] }
            } else if let language {
                blocks[language]?.append(line.trimmingCharacters(in: .whitespaces))
            }
        }
        #expect(Set(blocks.keys) == Set(examples.keys))
        for (language, path) in examples {
            let block = try #require(blocks[language])
            #expect(block.count >= 4, "\(language): a short example, not a fragment")
            var remaining = try Self.text(path).split(separator: "\n").map {
                $0.trimmingCharacters(in: .whitespaces)
            }[...]
            for line in block {
                let found = remaining.firstIndex(of: line)
                #expect(found != nil, "\(language): not in \(path) (or out of order): \(line)")
                remaining = found.map { remaining[($0 + 1)...] } ?? remaining
            }
        }
    }

    /// Issue #21: README had grown to 504 lines of history and contradicted itself. Design goes to
    /// docs/DESIGN.md, dated figures to Benchmarks/README.md, fixes to docs/SECURITY.md.
    @Test("README stays short: at most 200 lines", .bug("#21"))
    func readmeIsShort() throws {
        let lines = try Self.text("README.md").split(separator: "\n", omittingEmptySubsequences: false)
        // A file ending in a newline splits into one empty last element, which is no line.
        let count = lines.last == "" ? lines.count - 1 : lines.count
        #expect(count <= 200, "README.md has \(count) lines; move detail to docs/ (DESIGN.md, CLI.md, API.md)")
    }

    @Test("README's snippet refuses to start without its keyset and names the path")
    func readmeStartNeedsKeyset() throws {
        try #require(!FileManager.default.fileExists(atPath: "/etc/billing/keyset.json"))
        let error = #expect(throws: KeysetError.self) { _ = try startSigil() }
        #expect(error?.message.contains("/etc/billing/keyset.json") == true)
    }

    @Test("README's request handler answers 204, 403 and 401")
    func readmeHandlerStatuses() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sigil-test-only-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let secret = [UInt8](repeating: 7, count: 32)
        let keyset = try Keyset(
            audience: "billing",
            tokenKeys: [TokenKey(keyID: "k1", key: TokenMinter.audienceKey(masterSecret: secret, audience: "billing"))],
            revocationKeys: [])
        try Data(keyset.json()).write(to: folder.appendingPathComponent("keyset.json"))
        let sigil = try VerifierService(
            keysetPath: folder.appendingPathComponent("keyset.json").path,
            revocationsPath: folder.appendingPathComponent("revocations.sgl").path, whenNoList: .failOpen)

        func token(_ scope: Scope) throws -> String {
            let now = Verifier.unixNow()
            let claims = try TokenClaims(
                keyID: "k1", audience: "billing", id: TokenMinter.newTokenID(), validFrom: now - 10,
                validTo: now + 600, scope: scope)
            return try TokenMinter.mint(claims, masterSecret: secret)
        }
        #expect(status(bearer: try token(.custom(["devices.delete"])), sigil: sigil) == 204)
        #expect(status(bearer: try token(.readOnly), sigil: sigil) == 403)
        #expect(status(bearer: "sgl_not-a-token", sigil: sigil) == 401)
    }
}
