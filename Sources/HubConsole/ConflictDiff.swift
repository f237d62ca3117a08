import Foundation
import SyncEngine
import Records

/// A conflicted document's siblings laid side by side, field by field, and the body an operator's
/// merge makes of them. Pure: no I/O.
struct ConflictDiff {
    /// One top-level field: its value in each sibling as JSON text to show, sealed fields
    /// redacted (nil when the sibling lacks it or is a deletion), and whether the siblings
    /// disagree on it (sealed values included).
    struct Field: Sendable {
        var name: String
        var values: [String?]
        var differs: Bool
    }

    /// The most fields shown and merged; a record with more is resolved by picking a sibling.
    static let maxFields = 400

    var fields: [Field]
    /// Whether each sibling is a deletion (a tombstone).
    var deleted: [Bool]
    private var objects: [[String: Any]?]

    /// The diff of the bodies of a document of `collection` (nil: a deletion); the bookkeeping
    /// field ``JSONBody/resolutionField`` is left out, and the values shown have the collection's
    /// sealed fields (an observation's informant reference) redacted. Nil when a body is not a
    /// JSON object or there are too many fields.
    /// `shown`, when given, are the bodies as the operator may see them (see ``HubConsole/shownBody(_:key:session:)``).
    init?(bodies: [Data?], collection: CollectionName, shown: [Data?]? = nil) {
        guard let objects = Self.objects(bodies),
            let shown = Self.objects(shown ?? bodies.map { SealedFields.redacted($0, in: collection) })
        else { return nil }
        let names = Set(objects.compactMap { $0 }.flatMap(\.keys)).sorted()
        guard names.count <= Self.maxFields else { return nil }
        self.objects = objects
        deleted = objects.map { $0 == nil }
        fields = names.map { name in
            let real = objects.map { object in object?[name].flatMap(Self.text) ?? "\u{0}absent" }
            return Field(
                name: name, values: shown.map { object in object?[name].flatMap(Self.text) }, differs: Set(real).count > 1)
        }
    }

    /// The bodies as JSON objects without the resolution field; nil when one is not an object.
    private static func objects(_ bodies: [Data?]) -> [[String: Any]?]? {
        var objects: [[String: Any]?] = []
        for body in bodies {
            guard let body else {
                objects.append(nil)
                continue
            }
            guard var object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] else { return nil }
            object[JSONBody.resolutionField] = nil
            objects.append(object)
        }
        return objects
    }

    /// The merged body: each field taken from the sibling `choices` names (by index), the first
    /// sibling holding it when no choice is given; a field the chosen sibling lacks is left out.
    /// Nil when a choice names no sibling, or a deletion.
    func merged(choices: [String: Int]) -> Data? {
        var merged: [String: Any] = [:]
        for field in fields {
            let index = choices[field.name] ?? field.values.firstIndex { $0 != nil } ?? 0
            guard objects.indices.contains(index), let object = objects[index] else { return nil }
            if let value = object[field.name] { merged[field.name] = value }
        }
        return try? JSONSerialization.data(withJSONObject: merged, options: [.sortedKeys, .withoutEscapingSlashes])
    }

    /// A JSON value as compact text with sorted keys.
    static func text(_ value: Any) -> String? {
        guard
            let data = try? JSONSerialization.data(
                withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed, .withoutEscapingSlashes])
        else { return nil }
        return String(decoding: data, as: UTF8.self)
    }
}
