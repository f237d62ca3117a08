public import Foundation
public import HubStore
public import ReplicaStore
public import SyncEngine

/// ``HubAttachmentStorage`` on the hub's SQLite replica (tables `attachments`, `attachment_chunks`,
/// `attachment_names`, `attachment_uploads`).
public struct SQLiteHubAttachmentStorage: HubAttachmentStorage {
    public let store: ReplicaStore

    public init(store: ReplicaStore) { self.store = store }

    public func namings(of hash: String) async throws -> [AttachmentNaming] {
        let store = self.store
        return try await offload { try store.attachmentNamings(hash) }
    }

    public func manifest(of hash: String) async throws -> (manifest: AttachmentManifest, complete: Bool)? {
        let store = self.store
        return try await offload { try store.attachmentManifest(hash).map { HeldManifest(manifest: $0.manifest, complete: $0.complete) } }
            .map { ($0.manifest, $0.complete) }
    }

    public func offer(_ manifest: AttachmentManifest, by device: ReplicaID, quota: Int) async throws -> AttachmentOfferOutcome {
        let store = self.store
        return try await offload { try store.offerAttachment(manifest, by: device, quota: quota) }
    }

    public func receive(_ data: Data, index: Int, of hash: String) async throws -> ChunkOutcome {
        let store = self.store
        return try await offload { try store.receiveChunk(data, index: index, of: hash) }
    }

    public func chunk(_ hash: String) async throws -> Data? {
        let store = self.store
        return try await offload { try store.chunk(hash) }
    }

    public func mediaPolicy(of device: ReplicaID) async throws -> MediaPolicy? {
        let store = self.store
        return try await offload { try store.mediaPolicy(of: device) }
    }

    public func offered(_ hash: String, by device: ReplicaID) async throws -> Bool {
        let store = self.store
        return try await offload { try store.offeredAttachment(hash, by: device) }
    }

    private struct HeldManifest: Sendable {
        var manifest: AttachmentManifest
        var complete: Bool
    }

}
