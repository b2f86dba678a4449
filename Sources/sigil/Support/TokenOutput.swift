import Foundation
import SigilIssuer
import SigilVerifier

/// One token as a loose JSON object, for the outputs that nest a row in a larger object
/// (`inspect --json`'s `ledger`, `expiring --json`): ``WireToken``'s encoding, parsed back,
/// so they can never disagree with `show` or `list` on a key.
func tokenJSON(_ t: TokenRecord) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(Wire.encode(WireToken(t))))) as? [String: Any] ?? [:]
}

/// A scope as a loose JSON value, as ``WireScope`` writes it.
func scopeJSON(_ scope: Scope) -> Any {
    (try? JSONSerialization.jsonObject(with: Data(Wire.encode(WireScope(scope))), options: .fragmentsAllowed))
        ?? NSNull()
}

/// A scope for a table column: `all`, `read-only`, the pairs, or their count when too wide.
func scopeSummary(_ scope: Scope, width: Int = 28) -> String {
    switch scope {
    case .all: return "all"
    case .readOnly: return "read-only"
    case .custom(let pairs):
        let text = pairs.joined(separator: ",")
        return text.count <= width ? text : "\(pairs.count) permissions"
    }
}
