public import Foundation
public import SyncEngine

/// How concurrent versions of one record are reconciled.
public enum MergePolicy: String, Sendable, Hashable {
    /// Versions that changed different top-level fields (against their common ancestor) merge
    /// automatically; versions that changed one field differently stay siblings for an operator.
    case fieldwise
    /// Concurrent versions always stay siblings for an operator (evidence is never merged).
    case manual
}

/// The pure field-by-field merge of concurrent sibling bodies against their common ancestor.
///
/// Each top-level field is judged on its own: unchanged by every sibling, it keeps the ancestor's
/// value; changed by some siblings to one same value (a removal counts as a change), it takes that
/// value; changed to different values, it is a conflict. Fields listed as keyed maps (a warning's
/// `recipients`, keyed by participant) are judged entry by entry instead, so two recipients
/// acknowledging at once do not conflict. The reserved `_resolution` field is left out of the
/// judgement and of the result. A deletion against an edit is a conflict; deletions on every side
/// agree. The result is canonical JSON (sorted keys), so any replica computing the merge of the
/// same versions, in any order, gets the same bytes.
public enum FieldwiseMerge {
    /// What merging found.
    public enum Outcome: Sendable, Hashable {
        /// The merged body, to be written as a new version whose context covers every sibling.
        case merged(Data)
        /// Every sibling deletes the record.
        case deleted
        /// The siblings cannot be merged: the fields changed differently (dotted paths for keyed
        /// maps, such as `recipients.ngo-a`), and whether a deletion met an edit.
        case conflict(fields: [String], deletionAgainstEdit: Bool)
    }

    /// The fields of `kind` merged entry by entry rather than as a whole.
    public static func keyedMapFields(of kind: RecordKind) -> Set<String> {
        kind == .warning ? ["recipients"] : []
    }

    /// Merges the siblings of a record of `collection` when its policy is ``MergePolicy/fieldwise``;
    /// nil when the collection's records are never merged automatically (observations, participants,
    /// free JSON).
    public static func merge(collection: CollectionName, ancestor: Data?, siblings: [Data?]) -> Outcome? {
        guard let kind = RecordKind(collection: collection), kind.mergePolicy == .fieldwise else { return nil }
        return merge(ancestor: ancestor, siblings: siblings, keyedMaps: keyedMapFields(of: kind))
    }

    /// Merges `siblings` (nil: a tombstone) against `ancestor` (nil: none known, every field
    /// counts as added), judging the fields in `keyedMaps` entry by entry.
    public static func merge(ancestor: Data?, siblings: [Data?], keyedMaps: Set<String> = []) -> Outcome {
        let deletions = siblings.filter { $0 == nil }.count
        if deletions == siblings.count { return .deleted }
        if deletions > 0 { return .conflict(fields: [], deletionAgainstEdit: true) }
        var objects: [[String: JSONValue]] = []
        for case let body? in siblings {
            guard let parsed = try? JSONValue(parsing: body), let fields = parsed.objectValue else {
                return .conflict(fields: ["(body)"], deletionAgainstEdit: false)
            }
            objects.append(fields)
        }
        let base = ancestor.flatMap { try? JSONValue(parsing: $0) }?.objectValue ?? [:]
        var conflicts: [String] = []
        var merged = mergeFields(base, objects, prefix: "", keyedMaps: keyedMaps, conflicts: &conflicts)
        merged.removeValue(forKey: JSONBody.resolutionField)
        guard conflicts.isEmpty else { return .conflict(fields: conflicts, deletionAgainstEdit: false) }
        return .merged(JSONValue.object(merged).canonicalData)
    }

    private static func mergeFields(
        _ base: [String: JSONValue], _ siblings: [[String: JSONValue]], prefix: String, keyedMaps: Set<String>,
        conflicts: inout [String]
    ) -> [String: JSONValue] {
        var names = Set(base.keys)
        for sibling in siblings { names.formUnion(sibling.keys) }
        if prefix.isEmpty { names.remove(JSONBody.resolutionField) }
        var result: [String: JSONValue] = [:]
        for name in names.sorted() {
            let original = base[name]
            let values = siblings.map { $0[name] }
            let changes = Set(values.filter { $0 != original })
            if changes.isEmpty {
                result[name] = original
            } else if changes.count == 1, let change = changes.first {
                result[name] = change
            } else if keyedMaps.contains(name), let maps = objects([original] + values) {
                let entries = mergeFields(
                    maps[0], Array(maps.dropFirst()), prefix: prefix + name + ".", keyedMaps: [], conflicts: &conflicts)
                result[name] = .object(entries)
            } else {
                conflicts.append(prefix + name)
            }
        }
        return result
    }

    /// The values as objects (absent as empty), or nil when one is neither.
    private static func objects(_ values: [JSONValue?]) -> [[String: JSONValue]]? {
        var result: [[String: JSONValue]] = []
        for value in values {
            switch value {
            case .none: result.append([:])
            case .some(.object(let fields)): result.append(fields)
            default: return nil
            }
        }
        return result
    }
}
