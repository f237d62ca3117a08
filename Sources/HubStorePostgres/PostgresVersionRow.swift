import Foundation
import PostgresNIO
import SyncEngine

/// A row of the feed's selection (``PostgresFeedSelection/columns``) as a version and its position.
enum PostgresVersionRow {
    static func decode(_ row: PostgresRow) throws -> (Version, FeedPosition) {
        let (origin, counter, collection, documentID, partition, context, body, wall, logical, signature, seq, tag) =
            try row.decode(
                (String, Int64, String, String, String, String, Data?, Int64, Int64, Data, Int64, Int64).self)
        guard let replica = ReplicaID(origin), let collection = CollectionName(collection),
            let id = DocumentID(documentID),
            let partition = Partition(partition), let context = VersionVector(compactText: context), counter > 0
        else {
            throw PostgresStoreError(.malformedRow, "A version row of the hub's feed is malformed (sequence \(seq)).")
        }
        let dot = Dot(replica: replica, counter: UInt64(counter))
        let version = Version(
            dot: dot, collection: collection, documentID: id, partition: partition, context: context, body: body,
            timestamp: HybridTimestamp(
                wallMilliseconds: UInt64(max(0, wall)), logical: UInt32(truncatingIfNeeded: logical)),
            signature: signature)
        return (version, FeedPosition(sequence: seq, dot: dot, tag: UInt32(truncatingIfNeeded: tag)))
    }
}
