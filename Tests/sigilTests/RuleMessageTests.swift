import Foundation
import SigilIssuer
import SigilTestSupport
import Testing

@Suite("The CLI refuses a bad value with the issuer's one message")
struct RuleMessageTests {
    @Test(
        "A bad audience gets Audience's message, after --, from every command that takes one",
        .bug(id: 21, "the audience rule was spelled out on 24 lines of 17 files, in four wordings"),
        arguments: [
            ["issue", "--name", "x", "--all", "--audience"], ["list", "--audience"], ["verify", "--audience"],
        ])
    func audience(command: [String]) async throws {
        let box = try Sandbox()
        _ = try await box.issue(name: "makes the home")
        let expected = try #require(audienceMessage("bill ing"))
        let result = try await box.run(command + ["bill ing"])
        #expect(result.exitCode == 64, "\(result)")
        #expect(result.stderr.contains("--" + expected), "\(result.stderr)")
    }

    @Test("A bad --actor filter of log gets ActorName's message (64)")
    func actor() async throws {
        let box = try Sandbox()
        _ = try await box.issue(name: "makes the home")
        let result = try await box.run("log", "--actor", "al ice")
        #expect(result.exitCode == 64, "\(result)")
        #expect(result.stderr.contains("--actor must be 1-261 characters of A-Z a-z 0-9 . _ @ : + - (got 6 bytes)"))
    }

    /// The message the issuer gives `text`, as the API's `message` carries it.
    func audienceMessage(_ text: String) -> String? {
        do {
            _ = try Audience(text)
            return nil
        } catch {
            return error.message
        }
    }
}
