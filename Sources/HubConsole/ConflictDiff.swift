import Foundation
import SyncEngine

/// A conflicted document's siblings laid side by side, field by field, and the body an operator's
/// merge makes of them. Pure: no I/O.
struct ConflictDiff {
    /// One top-level field: its value in each sibling as JSON text (nil when the sibling lacks it
    /// or is a deletion), and whether the siblings disagree on it.
    struct Field: Sendable {
        var name: String
        var values: [String?]
        var differs: Bool { Set(values.map { $0 ?? "\u{0}absent" }).count > 1 }
    }

    /// The most fields shown and merged; a record with more is resolved by picking a sibling.
    static let maxFields = 400

    var fields: [Field]
    /// Whether each sibling is a deletion (a tombstone).
    var deleted: [Bool]
    private var objects: [[String: Any]?]

    /// The diff of `bodies` (nil: a deletion); the bookkeeping field ``JSONBody/resolutionField``
    /// is left out. Nil when a body is not a JSON object or there are too many fields.
    init?(bodies: [Data?]) {
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
        let names = Set(objects.compactMap { $0 }.flatMap(\.keys)).sorted()
        guard names.count <= Self.maxFields else { return nil }
        self.objects = objects
        deleted = objects.map { $0 == nil }
        fields = names.map { name in
            Field(name: name, values: objects.map { object in object?[name].flatMap(Self.text) })
        }
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
