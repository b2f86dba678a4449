import Foundation
import SigilIssuer

/// A `--json` object built field by field, for the outputs that are not one of the wire
/// model's types (`keys list`, `verify`, `scan`, …), encoded by ``Wire/encoder`` like them.
///
/// A field set to nil is written as `null`, never left out, as these outputs always did.
///
/// ```swift
/// var o: JSONObject = ["valid": true, "reason": nil, "valid_to": claims.validTo]
/// o["scope"] = WireScope(claims.scope)
/// Console.json(o)
/// ```
struct JSONObject: Encodable, ExpressibleByDictionaryLiteral {
    private var fields: [String: (any Encodable)?] = [:]

    init(dictionaryLiteral elements: (String, (any Encodable)?)...) {
        for (key, value) in elements { fields.updateValue(value, forKey: key) }
    }

    /// The fields of `value`, a wire type that encodes as an object (``WireToken``), to add
    /// more to; empty if it encodes as something else.
    init(fieldsOf value: some Encodable) {
        let object = try? Wire.decoder.decode([String: JSONValue].self, from: Data(Wire.encode(value)))
        for (key, field) in object ?? [:] { fields.updateValue(field, forKey: key) }
    }

    /// Sets a field; nil writes `null`.
    subscript(key: String) -> (any Encodable)? {
        get { fields[key] ?? nil }
        set { fields.updateValue(newValue, forKey: key) }
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: WireKey.self)
        for (key, value) in fields {
            if let value { try c.encode(value, forKey: WireKey(key)) } else { try c.encodeNil(forKey: WireKey(key)) }
        }
    }
}
