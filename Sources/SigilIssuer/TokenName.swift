/// A token's name: text a person reads in listings, the console and the audit log, so it must
/// look like what it holds.
///
/// On top of the rules every label follows (``Labels/checkText(_:field:required:maxBytes:)``:
/// not blank, at most ``maxBytes`` UTF-8 bytes, no control or format character, no
/// line or paragraph separator), a name may hold no letter that renders as blank (U+115F and
/// U+1160 HANGUL CHOSEONG/JUNGSEONG FILLER, U+3164 HANGUL FILLER, U+FFA0 HALFWIDTH HANGUL
/// FILLER, U+2800 BRAILLE PATTERN BLANK) and no run of more than ``maxCombiningRun``
/// combining marks: two names that look the same must be the same name.
///
/// ```swift
/// let name = try TokenName("CI deploy")
/// print(name.text)
/// ```
public struct TokenName: Sendable, Hashable, CustomStringConvertible {
    /// The longest name, in UTF-8 bytes: limited in bytes, not characters, because 200
    /// graphemes of combining marks were 80 KB.
    public static let maxBytes = 200

    /// The most combining marks (Mn, Me) one character may stack: vocalised Hebrew needs three
    /// (a letter, dagesh, a dot and a vowel), "Zalgo" text stacks dozens.
    public static let maxCombiningRun = 3

    /// Letters that are not spaces to Unicode but draw nothing.
    public static let blankLetters: Set<Unicode.Scalar> = ["\u{115F}", "\u{1160}", "\u{3164}", "\u{FFA0}", "\u{2800}"]

    public let text: String

    /// - Throws: ``IssuerError`` `invalid_input` / `invalidLabel(field: "name", …)` naming
    ///   the problem (and the code point, never the name).
    public init(_ text: String) throws(IssuerError) {
        try Labels.checkText(text, field: "name", required: true, maxBytes: Self.maxBytes)
        func refuse(_ problem: String) -> IssuerError {
            IssuerError(.invalidInput, "name \(problem)", detail: .invalidLabel(field: "name", problem: problem))
        }
        var run = 0
        for scalar in text.unicodeScalars {
            if Self.blankLetters.contains(scalar) {
                throw refuse(
                    "must not contain characters that draw nothing (U+\(String(scalar.value, radix: 16, uppercase: true)), a blank filler)"
                )
            }
            switch scalar.properties.generalCategory {
            case .nonspacingMark, .enclosingMark:
                run += 1
                if run > Self.maxCombiningRun {
                    throw refuse("must not stack more than \(Self.maxCombiningRun) combining marks on one character")
                }
            default: run = 0
            }
        }
        self.text = text
    }

    public var description: String { text }
}
