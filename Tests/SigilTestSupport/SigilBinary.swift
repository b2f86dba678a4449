import Foundation

/// The `sigil` executable of the build the running test bundle belongs to.
///
/// The test bundle lives in `<scratch>/<triple>/debug/`, and `swift build`/`swift test` put
/// `sigil` in the same folder, so tests always run the binary of the build they belong to.
/// `SIGIL_BINARY` overrides the search.
package enum SigilBinary {
    package static let path: String = locate()

    private static func locate() -> String {
        let fm = FileManager.default
        if let override = ProcessInfo.processInfo.environment["SIGIL_BINARY"], !override.isEmpty { return override }
        var folders: [String] = []
        if let exe = try? fm.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            folders.append((exe as NSString).deletingLastPathComponent)
        }
        folders.append((CommandLine.arguments[0] as NSString).deletingLastPathComponent)
        folders.append(Bundle.main.bundleURL.deletingLastPathComponent().path)
        folders.append(Bundle.main.bundleURL.path)
        // Last resort: the package's default scratch folders, from this file's location
        // (Tests/SigilTestSupport/SigilBinary.swift).
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        folders.append(root.appendingPathComponent(".build-cli/debug").path)
        folders.append(root.appendingPathComponent(".build/debug").path)
        for folder in folders {
            let candidate = folder + "/sigil"
            if fm.isExecutableFile(atPath: candidate) { return candidate }
        }
        return folders[0] + "/sigil"  // the failure message names where it was expected
    }
}
