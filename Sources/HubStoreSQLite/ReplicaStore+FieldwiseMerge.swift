import Foundation
import GRDB
import HubStore
import Records
public import ReplicaStore
public import SyncEngine

extension ReplicaStore {
    /// Merges, field by field, the conflicting documents among `keys` whose collection's policy is
    /// ``MergePolicy/fieldwise`` (situations, warnings), against their common ancestor in history.
    ///
    /// Each merge is a resolution written by this replica: its context covers every sibling, and
    /// its body records the merged siblings under ``JSONBody/resolutionField``. Documents whose
    /// siblings changed one field differently, or whose state changed meanwhile, are left for an
    /// operator. Returns the versions written.
    ///
    /// Run it in one place (the hub), so that the network gets one merge per conflict rather
    /// than one from every replica that notices it. When `audited` (the hub), each merge is
    /// recorded in the audit log in the transaction that writes it. With a `writer`, the merges
    /// take that writer id's dots (a hub's id of this process start) instead of the replica's own.
    @discardableResult
    public func mergeFieldwise(_ keys: Set<DocumentKey>, audited: Bool = false, as writer: ReplicaID? = nil) throws -> [Version] {
        let now = options.now()
        return try write { db in try mergeFieldwise(db, keys, audited: audited, as: writer, now: now) }
    }

    /// ``mergeFieldwise(_:audited:as:)`` in the transaction of `context` (a hub's push: the merges
    /// commit with the versions that made the conflicts), always audited.
    public func mergeFieldwise(in context: ApplyContext, _ keys: Set<DocumentKey>, as writer: ReplicaID?) throws -> [Version] {
        try mergeFieldwise(context.db, keys, audited: true, as: writer, now: options.now())
    }

    private func mergeFieldwise(
        _ db: Database, _ keys: Set<DocumentKey>, audited: Bool, as writer: ReplicaID?, now: UInt64
    ) throws -> [Version] {
        var written: [Version] = []
        for key in keys.sorted() where RecordKind(collection: key.collection)?.mergePolicy == .fieldwise {
            guard let record = try DocumentRecord.load(db, key), case let document = try Self.stored(db, record),
                document.isConflicted
            else { continue }
            let version: Version
            do {
                guard
                    let intent = try FieldwiseResolution.intent(
                        for: key, siblings: document.siblings, history: try Self.history(db, of: key).map(\.version),
                        maximumBodySize: options.maximumBodySize)
                else { continue }
                version = try Self.write(db, intent, as: writer, signedWith: self.key, now: now)
                if let writer { try Self.recordWriters(db, [writer], at: now) }
            } catch is SyncEngineError {
                // A merged body that is no valid record, or a plan refused: thrown before anything is
                // written, and left for an operator rather than failing the push it commits with.
                continue
            }
            if audited { try Self.auditResolution(siblings: document.siblings.map(\.dot))(db, version, now) }
            written.append(version)
        }
        return written
    }

    /// Records a hub's merge in the audit log: the document, the merge's dot and the siblings it merged.
    private static func auditResolution(siblings: [Dot]) -> @Sendable (Database, Version, UInt64) throws -> Void {
        { db, version, now in
            try appendAudit(
                db, actor: AuditEntry.hubActor, action: .resolved, subject: version.key.description,
                detail: [
                    "dot": version.dot.description, "siblings": siblings.map(\.description).joined(separator: " "),
                    "how": "merged field by field",
                ],
                at: now)
        }
    }
}
