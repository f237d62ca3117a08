import Foundation
import GRDB
@testable import ReplicaStore
import SyncEngine
import Testing
import TestSupport

/// `apply` stores a document it does not hold as its first version arrives (one insert that does
/// nothing when a row is there) and reads a document only when the replica holds it. Whatever the
/// batches and their order, every `documents` row must come out column for column as the merge
/// of the document's versions gives it: siblings, joined context, sibling count, the deleted flag
/// (every sibling a tombstone) and the newest sibling's wall time.
@Suite struct ApplyRowsTests {
    static func documentRows(_ store: ReplicaStore) throws -> [[String]] {
        try store.database.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT collection, document_id, partition, siblings, context, CAST(sibling_count AS TEXT),
                        CAST(deleted AS TEXT), CAST(updated_wall AS TEXT)
                    FROM documents ORDER BY collection, document_id
                    """
            ).map { row in (0..<8).map { row[$0] as String } }
        }
    }

    @Test(arguments: propertySeeds.prefix(3))
    func documentRowsAreTheSameWhateverTheBatchesAndTheirOrder(seed: UInt64) throws {
        let folder = try TemporaryReplica()
        // The mixed history, and a document written and deleted (not every seed deletes one).
        let deleter = try folder.create("deleter")
        let made = try deleter.write(StoreFixtures.put("gone", "x"))
        let gone = try deleter.write(WriteIntent(key: made.key, body: nil))
        let versions = try ApplyTests.mixedHistory(folder, seed: seed) + [made, gone]
        let sender = ReplicaID.random()
        let deliveries: [(name: String, batches: [[Version]])] = [
            ("one batch", [versions]),
            ("one by one", versions.map { [$0] }),
            ("reversed, one batch", [versions.reversed()]),
            ("reversed, one by one", versions.reversed().map { [$0] }),
            ("pairs", stride(from: 0, to: versions.count, by: 2).map { Array(versions[$0..<min($0 + 2, versions.count)]) }),
        ]
        var rows: [String: [[String]]] = [:]
        for delivery in deliveries {
            let store = try folder.create(delivery.name.replacingOccurrences(of: " ", with: "-").replacingOccurrences(of: ",", with: ""))
            for batch in delivery.batches { try store.apply(batch, from: sender) }
            #expect(try store.status().versions == versions.count, "seed \(seed), \(delivery.name)")
            rows[delivery.name] = try Self.documentRows(store)
        }
        let expected = try #require(rows["one by one"])
        #expect(!expected.isEmpty)
        for (name, found) in rows { #expect(found == expected, "seed \(seed), \(name)") }

        // And the rows say what the versions say.
        let byKey = Dictionary(grouping: versions, by: \.key)
        for row in expected {
            let key = DocumentKey(collection: try #require(CollectionName(row[0])), id: try #require(DocumentID(row[1])))
            let state = DocumentState(merging: try #require(byKey[key]))
            let siblings = try #require(byKey[key]).filter { state.siblings.contains($0.dot) }
            #expect(row[3] == state.siblings.map(\.description).joined(separator: ","), "seed \(seed), \(key)")
            #expect(row[4] == state.context.compactText, "seed \(seed), \(key)")
            #expect(row[5] == String(state.siblings.count), "seed \(seed), \(key)")
            #expect(row[6] == (siblings.allSatisfy(\.isTombstone) ? "1" : "0"), "seed \(seed), \(key)")
            #expect(row[7] == String(siblings.map(\.timestamp.wallMilliseconds).max() ?? 0), "seed \(seed), \(key)")
        }
    }

    /// A tombstone as the first version a replica receives of a document (the document's earlier
    /// versions went elsewhere): the new row is a deleted document.
    @Test func aTombstoneReceivedFirstStoresADeletedDocument() async throws {
        try await TemporaryReplica.withReplicas(2) { stores in
            let created = try stores[0].write(StoreFixtures.put("a", "x"))
            let deleted = try stores[0].write(WriteIntent(key: created.key, body: nil))
            #expect(try stores[1].apply([deleted], from: stores[0].replicaID).stored == 1)
            let rows = try Self.documentRows(stores[1])
            #expect(rows.count == 1)
            #expect(rows.first?[6] == "1")
            #expect(rows.first?[7] == String(deleted.timestamp.wallMilliseconds))
            #expect(try stores[1].apply([created], from: stores[0].replicaID).stored == 1)
            #expect(try Self.documentRows(stores[1]) == rows, "the earlier version changes nothing")
        }
    }
}
