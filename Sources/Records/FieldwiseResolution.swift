import Foundation
public import SyncEngine

/// What a hub writes for a document a push left in conflict, planned from what it holds of the
/// document: pure, so every hub backend (SQLite, PostgreSQL) finds the same documents to merge,
/// the same common ancestor and the same merged body, and only reads and stores.
public enum FieldwiseResolution {
    /// Why a hub's merge was written, recorded in its body under ``JSONBody/resolutionField``.
    public static let reason = "merged field by field: the versions changed different fields"

    /// The documents a push may have left in conflict that merge field by field: those of the
    /// pushed versions that were neither refused, forked nor set aside (versions already held
    /// count: their document may still be in conflict), whose collection's policy is
    /// ``MergePolicy/fieldwise``; in order.
    public static func documents(of pushed: [Version], report: ApplyReport) -> [DocumentKey] {
        let unmerged = Set(report.refused + report.forks).union(report.setAside.keys)
        let keys = Set(pushed.filter { !unmerged.contains($0.dot) }.map(\.key))
        return keys.filter { RecordKind(collection: $0.collection)?.mergePolicy == .fieldwise }.sorted()
    }

    /// The latest version every sibling has seen: among the versions of `history` all siblings'
    /// contexts contain, the one whose history covers all the others; nil when there is none or
    /// no single latest one (criss-cross histories), in which case every field counts as changed.
    public static func commonAncestor(of siblings: [Version], in history: [Version]) -> Version? {
        let shared = history.filter { version in siblings.allSatisfy { $0.context.contains(version.dot) } }
        return shared.first { candidate in shared.allSatisfy { candidate.history.contains($0.dot) } }
    }

    /// The resolution a hub writes for `key`, whose current versions are `siblings` and whose
    /// every held version (oldest first) is `history`: a resolving write of the merged body (with
    /// ``reason`` and the siblings' dots recorded under ``JSONBody/resolutionField``), or a deletion
    /// when every sibling deletes, filed under the partition the merged record implies.
    ///
    /// Nil when the document is not in conflict, its collection is not merged field by field, or
    /// the siblings changed a field differently (left for an operator). Throws ``SyncEngineError``
    /// when the merged body is no valid record (left for an operator too).
    public static func intent(
        for key: DocumentKey, siblings: [Version], history: [Version],
        maximumBodySize: Int = JSONBody.defaultMaximumSize
    ) throws -> WriteIntent? {
        guard siblings.count > 1 else { return nil }
        let ancestor = commonAncestor(of: siblings, in: history)
        let outcome = FieldwiseMerge.merge(
            collection: key.collection, ancestor: ancestor?.body, siblings: siblings.map(\.body))
        let dots = siblings.map(\.dot).sorted()
        switch outcome {
        case .merged(let merged)?:
            let body = try JSONBody.annotatingResolution(merged, reason: reason, siblings: dots)
            let check = try RecordCatalog.validate(collection: key.collection, body: body, maximumSize: maximumBodySize)
            return WriteIntent(
                key: key, partition: check.partition, body: body, isResolution: true, expectedSiblings: dots)
        case .deleted?:
            return WriteIntent(key: key, body: nil, isResolution: true, expectedSiblings: dots)
        case .conflict?, nil:
            return nil
        }
    }
}
