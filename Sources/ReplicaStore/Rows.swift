import Foundation
package import GRDB
package import SyncEngine

/// How versions and document states are laid out in rows.
package enum Rows {
    /// The columns `version(_:)` reads; the body is opened by `vigil_open` (see
    /// ReplicaStore+Encryption.swift), its label the row's dot, collection and document id.
    package static let versionColumns = versionColumns(opener: "vigil_open")
    package static let storedVersionColumns = versionColumns + ", seq, received_from, set_aside_reason, set_aside_code"
    /// ``storedVersionColumns`` for checking every version: a body that does not open reads as
    /// NULL (`vigil_open_or_null`), and `body_unopened` says so.
    package static let checkedVersionColumns = versionColumns(opener: "vigil_open_or_null") + """
        , seq, received_from, set_aside_reason, set_aside_code, body_dropped,
        body IS NOT NULL AND body_dropped = 0
          AND vigil_open_or_null(body, 'versions', origin, counter, collection, document_id) IS NULL AS body_unopened
        """

    private static func versionColumns(opener: String) -> String {
        """
        origin, counter, collection, document_id, partition, context,
        \(opener)(body, 'versions', origin, counter, collection, document_id) AS body,
        clock_wall, clock_logical, signature
        """
    }

    package static func version(_ row: Row) throws -> Version {
        guard let origin = ReplicaID(row[0] as String),
            let collection = CollectionName(row[2] as String),
            let id = DocumentID(row[3] as String),
            let partition = Partition(row[4] as String),
            let context = VersionVector(compactText: row[5] as String)
        else { throw StoreError(.notAReplica, "A version row in the replica is malformed; the file may be damaged.") }
        let counter: Int64 = row[1]
        let wall: Int64 = row[7]
        let logical: Int64 = row[8]
        return Version(
            dot: Dot(replica: origin, counter: UInt64(counter)), collection: collection, documentID: id,
            partition: partition, context: context, body: row[6],
            timestamp: HybridTimestamp(wallMilliseconds: UInt64(wall), logical: UInt32(truncatingIfNeeded: logical)),
            signature: row[9])
    }

    package static func storedVersion(_ row: Row) throws -> StoredVersion {
        StoredVersion(
            version: try version(row), sequence: row[10],
            receivedFrom: (row[11] as String?).flatMap { ReplicaID($0) }, setAsideReason: setAsideReason(row, at: 12),
            bodyDropped: (row["body_dropped"] as Bool?) ?? false, bodyUnopened: (row["body_unopened"] as Bool?) ?? false)
    }

    /// The reason in the `set_aside_reason` and `set_aside_code` columns at `index` and the next;
    /// a code this build does not know (written by a later one) reads as an invalid record.
    package static func setAsideReason(_ row: Row, at index: Int) -> SetAsideReason? {
        guard let detail: String = row[index] else { return nil }
        let code = (row[index + 1] as String?).flatMap(SetAsideReason.Code.init(rawValue:)) ?? .invalidRecord
        return SetAsideReason(code, detail)
    }

    package static func versionArguments(
        _ version: Version, receivedFrom: ReplicaID?, setAsideReason: SetAsideReason? = nil
    ) -> StatementArguments {
        [
            version.dot.replica.hex, Int64(version.dot.counter), version.collection.rawValue,
            version.documentID.rawValue, version.partition.rawValue, version.context.compactText, version.body,
            Int64(clamping: version.timestamp.wallMilliseconds), Int64(version.timestamp.logical),
            version.signature, receivedFrom?.hex, setAsideReason?.detail, version.receipt?.bytes, setAsideReason?.code.rawValue,
        ]
    }

    /// Inserts `versionArguments`; the body is sealed by `vigil_seal` under the same label that
    /// `versionColumns` opens it with.
    package static let insertVersion = insertVersion(body: "vigil_seal(?7, 'versions', ?1, ?2, ?3, ?4)")

    /// ``insertVersion`` for a replica in clear: the body is bound as it is. `vigil_seal` would
    /// return it unchanged there, but only after copying it and its four label values into Swift
    /// values and back, for every row (about 6,000 instructions a version, a twentieth of an apply).
    package static let insertVersionInClear = insertVersion(body: "?7")

    /// ``insertVersion`` where `sealing` (an encrypted replica), else ``insertVersionInClear``.
    package static func insertVersion(sealing: Bool) -> String { sealing ? insertVersion : insertVersionInClear }

    private static func insertVersion(body: String) -> String {
        """
        INSERT INTO versions (
            origin, counter, collection, document_id, partition, context, body, clock_wall, clock_logical,
            signature, received_from, set_aside_reason, receipt, set_aside_code, feed_tag)
        VALUES (
            ?1, ?2, ?3, ?4, ?5, ?6, \(body), ?8, ?9, ?10, ?11, ?12, ?13, ?14,
            random() & 4294967295)
        """
    }

    package static func siblingsText(_ dots: [Dot]) -> String { dots.map(\.description).joined(separator: ",") }

    package static func siblings(_ text: String) throws -> [Dot] {
        try text.split(separator: ",").map { part in
            guard let dot = Dot(part) else {
                throw StoreError(.notAReplica, "A document row in the replica is malformed; the file may be damaged.")
            }
            return dot
        }
    }
}
