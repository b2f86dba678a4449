import Foundation
import SigilIssuer

/// What the CLI writes: notes, warnings and errors on stderr, results on stdout.
enum Console {
    static func error(_ message: String) {
        FileHandle.standardError.write(Data("sigil: error: \(message)\n".utf8))
    }
    static func note(_ message: String) {
        FileHandle.standardError.write(Data("\(message)\n".utf8))
    }
    static func warning(_ message: String) {
        FileHandle.standardError.write(Data("sigil: warning: \(message)\n".utf8))
    }
    static func out(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    /// One wire value (``WireToken``, ``WireEvent``, ``WireError``, …) on stdout, encoded as
    /// sigil-server encodes it.
    static func json(_ value: some Encodable) {
        FileHandle.standardOutput.write(Data(Wire.encode(value) + [0x0a]))
    }
}

/// Text bound for a terminal: control characters escaped, so stored labels can never move
/// the cursor, recolour or rewrite the screen.
enum Terminal {
    static func safe(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsEscape) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            if needsEscape(scalar) {
                out += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    private static func needsEscape(_ s: Unicode.Scalar) -> Bool {
        switch s.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator: true
        default: false
        }
    }
}
