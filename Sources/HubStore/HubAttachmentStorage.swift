public import Foundation
public import SyncEngine

/// What the hub's attachment routes need from its storage. The SQLite implementation is
/// `SQLiteHubAttachmentStorage`; another backend can follow behind the same operations.
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
    /// Whether `device` (its enrolled id) offered the file `hash` while the hub did not hold it
    /// whole, and was charged for it: it had the file to send.
    func offered(_ hash: String, by device: ReplicaID) async throws -> Bool
}
