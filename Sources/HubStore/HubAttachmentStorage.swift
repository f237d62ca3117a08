public import Foundation
public import ReplicaStore
public import SyncEngine

/// What the hub's attachment routes need from its storage. The SQLite implementation is
/// ``SQLiteHubAttachmentStorage``; another backend can follow behind the same operations.
public protocol HubAttachmentStorage: Sendable {
    /// The versions (not set aside) that name the attachment `hash`.
    func namings(of hash: String) async throws -> [AttachmentNaming]
    /// The manifest of `hash` and whether the whole file is held.
    func manifest(of hash: String) async throws -> (manifest: AttachmentManifest, complete: Bool)?
    /// Records an offer of `manifest` by `device` within `quota` bytes (0: none).
    func offer(_ manifest: AttachmentManifest, by device: ReplicaID, quota: Int) async throws -> AttachmentOfferOutcome
    /// Takes chunk `index` of `hash`.
    func receive(_ data: Data, index: Int, of hash: String) async throws -> ChunkOutcome
    /// The chunk whose SHA-256 is `hash`.
    func chunk(_ hash: String) async throws -> Data?
    /// The media policy set for `device`, if any.
    func mediaPolicy(of device: ReplicaID) async throws -> MediaPolicy?
}

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

    private struct HeldManifest: Sendable {
        var manifest: AttachmentManifest
        var complete: Bool
    }

}
