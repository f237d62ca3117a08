import Foundation
import ReplicaStore
import SyncEngine

/// The `--json` output: one JSON document on stdout, keys sorted, stable names in camelCase.
enum JSONOutput {
    /// Prints `object` as one pretty-printed JSON document.
    static func print(_ object: [String: Any]) throws {
        let data = try JSONSerialization.data(
            withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        Swift.print(String(decoding: data, as: UTF8.self))
    }

    /// A body as a JSON value (the parsed object), or null for a tombstone.
    static func body(_ data: Data?) -> Any {
        guard let data, let object = try? JSONSerialization.jsonObject(with: data) else { return NSNull() }
        return object
    }

    /// A version vector as `{replica id: counter}`.
    static func vector(_ vector: VersionVector) -> [String: Any] {
        Dictionary(uniqueKeysWithValues: vector.sortedEntries.map { ($0.replica.hex, $0.counter) })
    }

    /// One version: dot, author, time, context, body.
    static func version(_ version: Version) -> [String: Any] {
        [
            "dot": version.dot.description,
            "author": version.dot.replica.hex,
            "counter": version.dot.counter,
            "time": Rendering.time(version.timestamp),
            "timeMilliseconds": version.timestamp.wallMilliseconds,
            "context": vector(version.context),
            "deleted": version.isTombstone,
            "body": body(version.shownBody),
        ]
    }

    /// A document with every sibling.
    static func document(_ document: StoredDocument) -> [String: Any] {
        [
            "collection": document.key.collection.rawValue,
            "id": document.key.id.rawValue,
            "partition": document.partition.rawValue,
            "conflict": document.isConflicted,
            "deleted": document.isDeleted,
            "context": vector(document.state.context),
            "updated": Rendering.time(document.updatedAt),
            "keptHere": !document.isNotKeptHere,
            "siblings": document.siblings.map { sibling in
                var object = version(sibling)
                if document.droppedBodies.contains(sibling.dot) {
                    object["deleted"] = false
                    object["bodyKept"] = false
                }
                return object
            },
        ]
    }
}
