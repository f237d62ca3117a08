public import Foundation

/// Checks and compares JSON document bodies.
public enum JSONBody {
    /// The largest body accepted by default: 1 MiB.
    public static let defaultMaximumSize = 1 << 20

    /// The deepest nesting of arrays and objects accepted by default, the hub's limit too.
    public static let defaultMaximumDepth = MessageLimits().maxBodyDepth

    /// Checks that `data` is one JSON object of at most `maximumSize` bytes, nested at most
    /// `maximumDepth` levels, in UTF-8 without a byte-order mark, holding no key twice in one
    /// object.
    ///
    /// Foundation's parsers read more than RFC 8259 asks: UTF-16 and UTF-32 texts and a leading
    /// mark, and a key given twice (`JSONSerialization` keeps the last value, `JSONDecoder` the
    /// first). A body the hub admitted that way showed one value in the console's lists and
    /// exports and another in its conflict view and merges, and its attachments escaped the
    /// hub's index (found by review).
    public static func validate(
        _ data: Data, maximumSize: Int = defaultMaximumSize, maximumDepth: Int = defaultMaximumDepth
    ) throws {
        guard data.count <= maximumSize else {
            throw SyncEngineError(
                .invalidBody, "The body is \(data.count) bytes; the limit is \(maximumSize) bytes.")
        }
        guard !MessageLimits.isNested(data, deeperThan: maximumDepth) else {
            throw SyncEngineError(
                .invalidBody, "The body nests arrays and objects deeper than \(maximumDepth) levels, the limit.")
        }
        let value: Any
        do {
            value = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        } catch {
            throw SyncEngineError(.invalidBody, "The body is not valid JSON; give one JSON object such as {\"title\": \"...\"}.")
        }
        guard value is [String: Any] else {
            throw SyncEngineError(.invalidBody, "The body is JSON but not an object; give one JSON object such as {\"title\": \"...\"}.")
        }
        let whitespace: Set<UInt8> = [0x20, 0x09, 0x0A, 0x0D]
        guard !data.contains(0), data.first(where: { !whitespace.contains($0) }) == UInt8(ascii: "{") else {
            throw SyncEngineError(
                .invalidBody, "The body is not one JSON object in UTF-8; give one JSON object such as {\"title\": \"...\"}.")
        }
        if let key = data.withUnsafeBytes({ JSONDuplicateKeys.firstDuplicate(in: $0) }) {
            throw SyncEngineError(
                .invalidBody, "The body holds the key \"\(key.prefix(64))\" twice in one object; give each key once.")
        }
    }

    /// The top-level fields whose values are not the same in every one of `bodies`
    /// (a missing field counts as different from a present one), sorted by name.
    public static func differingFields(among bodies: [Data?]) -> [String] {
        let objects: [[String: Any]] = bodies.map { body in
            guard let body, let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any]
            else { return [:] }
            return object
        }
        let names = Set(objects.flatMap(\.keys))
        return names.filter { name in
            let rendered = objects.map { $0[name].map(canonicalText) }
            return Set(rendered.map { $0 ?? "\u{0}absent" }).count > 1
        }.sorted()
    }

    /// A value as text with sorted keys, so equal values compare equal.
    public static func canonicalText(_ value: Any) -> String {
        guard JSONSerialization.isValidJSONObject([value]),
            let data = try? JSONSerialization.data(withJSONObject: [value], options: [.sortedKeys, .fragmentsAllowed])
        else { return String(describing: value) }
        let text = String(decoding: data, as: UTF8.self)
        return String(text.dropFirst().dropLast())
    }
}
