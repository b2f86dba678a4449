import Foundation

/// The figures of one run, printed as a table or as one JSON object.
struct Report {
    enum Value {
        case number(Double?, decimals: Int)
        case integer(Int?)
        case text(String)
    }

    struct Figure {
        let key: String
        let value: Value
        let unit: String
        let meaning: String
    }

    struct Target {
        let key: String
        let goal: String
        /// nil when a figure it needs is missing.
        let pass: Bool?
        let value: Double?
    }

    var figures: [Figure] = []
    var targets: [Target] = []
    var notes: [String] = []
    var header: [(String, Value)] = []

    mutating func add(_ key: String, _ value: Double?, _ unit: String, decimals: Int = 1, _ meaning: String) {
        figures.append(Figure(key: key, value: .number(value, decimals: decimals), unit: unit, meaning: meaning))
    }

    mutating func add(_ key: String, integer value: Int?, _ unit: String, _ meaning: String) {
        figures.append(Figure(key: key, value: .integer(value), unit: unit, meaning: meaning))
    }

    func number(_ key: String) -> Double? {
        for figure in figures where figure.key == key {
            switch figure.value {
            case .number(let v, _): return v
            case .integer(let v): return v.map(Double.init)
            case .text: return nil
            }
        }
        return nil
    }

    mutating func target(_ key: String, _ goal: String, value: Double?, _ test: (Double) -> Bool) {
        targets.append(Target(key: key, goal: goal, pass: value.map(test), value: value))
    }

    // MARK: Output

    static func format(_ value: Value) -> String {
        switch value {
        case .number(let v?, let decimals): String(format: "%.\(decimals)f", v)
        case .integer(let v?): String(v)
        case .text(let s): s
        case .number(nil, _), .integer(nil): "null"
        }
    }

    static func json(_ value: Value) -> String {
        switch value {
        case .number(let v?, _) where v.isFinite: format(value)
        case .integer(let v?): String(v)
        case .text(let s):
            "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        default: "null"
        }
    }

    static func quote(_ s: String) -> String { json(.text(s)) }

    func table() -> String {
        var out = ""
        for (key, value) in header { out += "\(key): \(Self.format(value))  " }
        out += "\n\n"
        let width = max(30, (figures.map(\.key.count).max() ?? 0) + 2)
        func pad(_ s: String, _ n: Int) -> String {
            s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count)
        }
        func lpad(_ s: String, _ n: Int) -> String { s.count >= n ? s : String(repeating: " ", count: n - s.count) + s }
        out += pad("figure", width) + lpad("value", 14) + "  " + pad("unit", 6) + "meaning\n"
        out += String(repeating: "-", count: width + 14 + 2 + 6 + 40) + "\n"
        for f in figures {
            out += pad(f.key, width) + lpad(Self.format(f.value), 14) + "  " + pad(f.unit, 6) + f.meaning + "\n"
        }
        out += "\ntargets (goals, not tests)\n"
        out += String(repeating: "-", count: width + 14 + 2 + 6 + 40) + "\n"
        for t in targets {
            let result = t.pass.map { $0 ? "pass" : "MISS" } ?? "n/a"
            let value = t.value.map { String(format: "%.2f", $0) } ?? "null"
            out += pad(t.key, width) + lpad(value, 14) + "  " + pad(result, 6) + "goal: " + t.goal + "\n"
        }
        if !notes.isEmpty {
            out += "\nnotes\n"
            for n in notes { out += "- " + n + "\n" }
        }
        return out
    }

    func jsonObject() -> String {
        var members: [String] = header.map { "\(Self.quote($0.0)): \(Self.json($0.1))" }
        members += figures.map { "\(Self.quote($0.key)): \(Self.json($0.value))" }
        let targetMembers = targets.map { t in
            let result = t.pass.map { $0 ? "pass" : "miss" } ?? "n/a"
            let value = t.value.map { Self.json(.number($0, decimals: 3)) } ?? "null"
            let fields = "\"goal\": \(Self.quote(t.goal)), \"value\": \(value), \"result\": \"\(result)\""
            return "\(Self.quote(t.key)): {\(fields)}"
        }
        members.append("\"targets\": {" + targetMembers.joined(separator: ", ") + "}")
        members.append("\"notes\": [" + notes.map(Self.quote).joined(separator: ", ") + "]")
        return "{\n  " + members.joined(separator: ",\n  ") + "\n}"
    }
}
