import Foundation
import PropertyBased
import ReplicaStore
import SyncEngine
import Testing
import TestSupport

/// The document listing against a model: random puts and deletes, then every page in turn must
/// give exactly the live documents, newest first. A failing run shrinks to a short list of writes.
@Suite("Listing documents")
struct ListingPropertyTests {
    static let partitions = [StoreFixtures.north, StoreFixtures.south, Partition.default]

    @Test(.shrinking) func pagesMatchTheModel() async {
        let operations = Gen.int(in: 0...17).array(of: 1...30)
        await propertyCheck(count: 40, input: operations, Gen.int(in: 1...5)) { operations, pageSize in
            try await TemporaryReplica.withReplica { store in
                // The model: for each document, when it was last written, and whether deleted.
                var model: [String: (order: Int, deleted: Bool)] = [:]
                for (order, operation) in operations.enumerated() {
                    let id = "doc-\(operation % 6)"
                    let partition = Self.partitions[(operation % 6) % 3]
                    if operation >= 12, model[id] != nil {
                        try store.write(WriteIntent(key: StoreFixtures.key(id), body: nil))
                        model[id] = (order, true)
                    } else {
                        try store.write(StoreFixtures.put(id, "\(order)", partition: partition))
                        model[id] = (order, false)
                    }
                }
                let live = model.filter { !$0.value.deleted }.sorted { $0.value.order > $1.value.order }
                #expect(try Self.allPages(store, pageSize: pageSize, partition: nil) == live.map(\.key))
                for partition in Self.partitions {
                    let expected = live.filter { Self.partitions[(Int($0.key.dropFirst(4)) ?? 0) % 3] == partition }
                    #expect(
                        try Self.allPages(store, pageSize: pageSize, partition: partition) == expected.map(\.key))
                }
                let everything = try store.documents(
                    in: StoreFixtures.notes, includeDeleted: true, limit: 100)
                #expect(everything.documents.count == model.count)
            }
        }
    }

    static func allPages(_ store: ReplicaStore, pageSize: Int, partition: Partition?) throws -> [String] {
        var ids: [String] = []
        var cursor: String?
        for _ in 0..<100 {
            let page = try store.documents(
                in: StoreFixtures.notes, partition: partition, limit: pageSize, after: cursor)
            #expect(page.documents.count <= pageSize)
            ids += page.documents.map(\.key.id.rawValue)
            cursor = page.nextCursor
            if cursor == nil { break }
        }
        return ids
    }
}
