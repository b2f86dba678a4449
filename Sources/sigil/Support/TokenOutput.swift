import Foundation
import SigilIssuer
import SigilVerifier

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
