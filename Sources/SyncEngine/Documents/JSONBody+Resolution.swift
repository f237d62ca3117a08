public import Foundation

extension JSONBody {
    /// The reserved top-level field in which a resolving body records why it was written and
    /// which conflicting versions it resolves: `{"reason": "...", "siblings": ["<dot>", ...]}`.
    public static let resolutionField = "_resolution"

    /// `body` with the ``resolutionField`` set to `reason` and the resolved `siblings`.
    ///
    /// The field is added first and the rest of `body` is kept byte for byte; a body that already
    /// has the field (it resolved an earlier conflict) gets it replaced and is re-serialized with
    /// sorted keys. Throws ``SyncEngineError`` when `body` is not one JSON object.
    public static func annotatingResolution(_ body: Data, reason: String, siblings: [Dot]) throws -> Data {
        try validate(body, maximumSize: .max)
        let note: [String: Any] = ["reason": reason, "siblings": siblings.sorted().map(\.description)]
        guard var object = try JSONSerialization.jsonObject(with: body) as? [String: Any] else {
            throw SyncEngineError(.invalidBody, "The body is JSON but not an object; give one JSON object such as {\"title\": \"...\"}.")
        }
        let bytes = [UInt8](body)
        let isSpace: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }
        if object[resolutionField] == nil, let open = bytes.firstIndex(where: { !isSpace($0) }), bytes[open] == UInt8(ascii: "{") {
            let rest = bytes[(open + 1)...]
            let isEmpty = rest.first(where: { !isSpace($0) }) == UInt8(ascii: "}")
            let field = try JSONSerialization.data(
                withJSONObject: [resolutionField: note], options: [.sortedKeys, .withoutEscapingSlashes])
            var result = Data(bytes[...open])
            result.append(field.dropFirst().dropLast())  // `"_resolution":{...}` without the outer braces
            if !isEmpty { result.append(UInt8(ascii: ",")) }
            result.append(contentsOf: rest)
            return result
        }
        object[resolutionField] = note
        return try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
    }
}
