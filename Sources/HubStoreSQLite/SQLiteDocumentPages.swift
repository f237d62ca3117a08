public import Foundation
public import HubStore
public import ReplicaStore
public import SyncEngine

/// The console's document pages over the hub's SQLite replica: its `documents` table, read as
/// ``ReplicaStore`` always did, and resolutions written under the hub's merge writer id.
public struct SQLiteDocumentPages: DocumentPages {
    public let store: ReplicaStore
    /// The id resolutions are written under (the hub's writer id of this process).
    public let writer: ReplicaID

    public init(store: ReplicaStore, writer: ReplicaID) {
        self.store = store
        self.writer = writer
    }

    public func document(_ key: DocumentKey) async throws -> StoredDocument? {
        let store = store
        return try await offload { try store.document(key) }
    }

    public func documents(in collection: CollectionName, partition: Partition?, limit: Int, after cursor: String?)
        async throws -> DocumentPage
    {
        let store = store
        return try await offload { try store.documents(in: collection, partition: partition, limit: limit, after: cursor) }
    }

    public func conflicts(in collection: CollectionName?, partition: Partition?, limit: Int, after cursor: String?)
        async throws -> ConflictPage
    {
        let store = store
        return try await offload { try store.conflicts(in: collection, partition: partition, limit: limit, after: cursor) }
    }

    public func conflictedCollections() async throws -> [CollectionName] {
        let store = store
        return try await offload { try store.conflictedCollections() }
    }

    public func history(of key: DocumentKey, newest limit: Int) async throws -> [StoredVersion] {
        let store = store
        return try await offload { try store.history(of: key, newest: limit) }
    }

    public func authorNames(of origins: Set<ReplicaID>) async throws -> [ReplicaID: String] {
        let store = store
        return try await offload { try store.authorNames(of: origins) }
    }

    public func resolveAsOperator(
        _ key: DocumentKey, body: Data?, expectedSiblings: [Dot], operator name: String, reason: String, how: String
    ) async throws -> Version {
        let (store, writer) = (store, writer)
        return try await offload {
            try store.resolveAsOperator(
                key, body: body, expectedSiblings: expectedSiblings, operator: name, reason: reason, how: how, as: writer)
        }
    }
}
