import Foundation
import SyncEngine

/// Small builders shared by the SyncEngine tests.
enum Fixtures {
    /// A replica id whose 16 bytes are all `byte`, so tests can order ids by construction.
    static func replica(_ byte: UInt8) -> ReplicaID { ReplicaID(bytes: Array(repeating: byte, count: 16)) }

    static let collection = CollectionName("observations")!
    static let partition = Partition("region-north")!

    static func key(_ id: String, in collection: CollectionName = collection) -> DocumentKey {
        DocumentKey(collection: collection, id: DocumentID(id)!)
    }

    /// An unsigned version of document `doc`.
    static func version(
        _ replica: ReplicaID, _ counter: UInt64, context: VersionVector = VersionVector(),
        doc: String = "doc-1", body: String? = #"{"title":"flood"}"#, wall: UInt64 = 1_700_000_000_000
    ) -> Version {
        Version(
            dot: Dot(replica: replica, counter: counter), collection: collection, documentID: DocumentID(doc)!,
            partition: partition, context: context, body: body.map { Data($0.utf8) },
            timestamp: HybridTimestamp(wallMilliseconds: wall))
    }
}
