public import Foundation
public import SyncEngine

/// The fields that never leave the restricted layer: never listed, exported or logged.
public enum SealedFields {
    /// What a sealed value is replaced with wherever a body is shown.
    public static let placeholder = "(sealed)"

    /// The sealed fields of `collection`'s records, as dotted paths.
    public static func paths(in collection: CollectionName) -> [String] {
        RecordKind(collection: collection) == .observation ? Observation.sealedPaths : []
    }

    /// `body` with every sealed field's value replaced by ``placeholder``, for showing to people
    /// (`get`, `list`, `history`, conflicts). Unchanged bytes when nothing is sealed; otherwise
    /// canonical JSON. Nil stays nil (a tombstone).
    public static func redacted(_ body: Data?, in collection: CollectionName) -> Data? {
        guard let body else { return nil }
        let paths = paths(in: collection)
        guard !paths.isEmpty, var value = try? JSONValue(parsing: body) else { return body }
        var changed = false
        for path in paths {
            value = replacing(path.split(separator: ".").map(String.init)[...], in: value, changed: &changed)
        }
        return changed ? value.canonicalData : body
    }

    private static func replacing(_ path: ArraySlice<String>, in value: JSONValue, changed: inout Bool) -> JSONValue {
        guard let name = path.first, case .object(var fields) = value, let inner = fields[name] else { return value }
        if path.count == 1 {
            guard inner != .null else { return value }
            fields[name] = .string(placeholder)
            changed = true
        } else {
            fields[name] = replacing(path.dropFirst(), in: inner, changed: &changed)
        }
        return .object(fields)
    }
}
