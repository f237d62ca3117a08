import Foundation
import PostgresNIO
import SyncEngine

/// A row of the feed's selection (``PostgresFeedSelection/columns``) as a version and its position,
/// and a version's values as an insert binds them.
enum PostgresVersionRow {
    /// The columns ``bind(_:into:)`` gives values of, in its order.
    static let insertedColumns =
        "origin, counter, collection, document_id, partition, context, body, clock_wall, clock_logical, signature"

    /// Binds `version`'s values of ``insertedColumns`` in `builder`; returns their placeholders.
    static func bind(_ version: Version, into builder: inout PostgresQueryBuilder) -> [String] {
        [
            builder.bind(version.dot.replica.hex), builder.bind(Int64(clamping: version.dot.counter)),
            builder.bind(version.collection.rawValue), builder.bind(version.documentID.rawValue),
            builder.bind(version.partition.rawValue), builder.bind(version.context.compactText),
            version.body.map { builder.bind(bytes: $0) } ?? "NULL::bytea",
            builder.bind(Int64(clamping: version.timestamp.wallMilliseconds)),
            builder.bind(Int64(version.timestamp.logical)), builder.bind(bytes: version.signature),
        ]
    }

    /// Binds a new random feed tag (the part of a position that tells this feed's positions from
    /// another's); returns its placeholder.
    static func bindNewTag(into builder: inout PostgresQueryBuilder) -> String {
        builder.bind(Int64(UInt32.random(in: .min ... .max)))
    }

    /// A row of a page's selection (``PostgresFeedSelection/pageColumns``): the version, its
    /// position, and who delivered it (nil: written at the hub).
    static func decodeDelivered(_ row: PostgresRow) throws -> (Version, FeedPosition, ReplicaID?) {
        let (version, position) = try decode(row)
        let sender: String? = try row.dropFirst(columnCount).first?.decode(String?.self) ?? nil
        return (version, position, sender.flatMap { ReplicaID($0) })
    }

    /// How many columns ``decode(_:)`` reads (``PostgresFeedSelection/columns``).
    private static let columnCount = 12

    /// Reads the first ``columnCount`` columns of `row` (``PostgresFeedSelection/columns``).
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
