import Foundation
import ReplicaStore
import SyncEngine

/// Builders shared by the store tests.
enum StoreFixtures {
    static let notes = CollectionName("notes")!
    static let north = Partition("north")!
    static let south = Partition("south")!

    static func key(_ id: String, in collection: CollectionName = notes) -> DocumentKey {
        DocumentKey(collection: collection, id: DocumentID(id)!)
    }

    static func body(_ text: String) -> Data { Data(#"{"text":"\#(text)"}"#.utf8) }

    static func put(_ id: String, _ text: String, partition: Partition? = nil) -> WriteIntent {
        WriteIntent(key: key(id), partition: partition, body: body(text))
    }

    /// Sends `to` every version it lacks from `from`, as an exchange would.
    @discardableResult
    static func exchange(from: ReplicaStore, to: ReplicaStore) throws -> ApplyReport {
        let batch = try from.versions(missingFrom: to.knowledge(), limit: 100_000, maxBytes: .max)
        return try to.apply(batch.versions, from: from.replicaID)
    }

    /// Every version `store` holds in good standing.
    static func allVersions(_ store: ReplicaStore) throws -> [Version] {
        try store.versions(missingFrom: VersionVector(), limit: 100_000, maxBytes: .max).versions
    }

    /// What a store shows of its documents, for comparing two stores.
    struct View: Equatable, CustomStringConvertible {
        var documents: [StoredDocument]
        var conflicts: [DocumentKey]
        var knowledge: VersionVector

        var description: String {
            documents.map { "\($0.key): \($0.state.siblings) \($0.state.context)" }.joined(separator: "; ")
                + " conflicts \(conflicts) knowledge \(knowledge)"
        }
    }

    static func view(_ store: ReplicaStore, collections: [CollectionName] = [notes]) throws -> View {
        var documents: [StoredDocument] = []
        for collection in collections {
            var cursor: String?
            repeat {
                let page = try store.documents(in: collection, includeDeleted: true, limit: 7, after: cursor)
                documents += page.documents
                cursor = page.nextCursor
            } while cursor != nil
        }
        return View(
            documents: documents.sorted { $0.key < $1.key },
            conflicts: try store.conflicts().map(\.key),
            knowledge: try store.knowledge())
    }

    /// A small SQLite database of another program (a `notes` table), made by Python's sqlite3.
    static let foreignSQLite = Data(base64Encoded: foreignSQLiteBase64.joined()) ?? Data()

    private static let foreignSQLiteBase64 = [
        "U1FMaXRlIGZvcm1hdCAzAAIAAQEAQCAgAAAAAwAAAAIAAAAAAAAAAAAAAAIAAAAEAAAAAAAAAAAAAAABAAAAAAAAAAAAAAAA",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAADAC5jAQ0AAAABAbIAAbIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "AABMAQYXFxcBeXRhYmxlbm90ZXNub3RlcwJDUkVBVEUgVEFCTEUgbm90ZXMgKGlkIElOVEVHRVIgUFJJTUFSWSBLRVksIHRl",
        "eHQgVEVYVCkNAAAAAQH2AAH2AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "AAAAAAAACAEDABdoZWxsbw==",
    ]
}
