import Dispatch
public import Foundation
public import HubStore
public import SyncEngine

/// The hub's side of attachments, with no HTTP in it: offers, chunk uploads and downloads, each
/// within the device's scopes and the hub's limits (Docs/Protocol.md, Attachments).
///
/// A device may upload only attachments named by versions it wrote within its write scope, and
/// receives only attachments named by some version within its read scope; to a device outside
/// it, an attachment the hub holds looks exactly like one it does not (`not-held`, 404).
public struct HubAttachments: Sendable {
    public let storage: any HubAttachmentStorage
    public let limits: HubConfiguration.Limits

    public init(storage: any HubAttachmentStorage, limits: HubConfiguration.Limits) {
        self.storage = storage
        self.limits = limits
    }

    /// Takes `manifest` offered by `device` for the attachment `hash`; answers the chunks lacked.
    public func offer(_ manifest: AttachmentManifest, for hash: String, by device: DeviceRecord) async throws
        -> AttachmentOfferResponse
    {
        // Who may write it first: to a device that may not, a malformed manifest says nothing more.
        try await requireWritable(hash, by: device)
        guard manifest.sha256 == hash, manifest.isWellFormed else {
            throw SyncHubError(
                .malformedRequest,
                "The manifest does not describe this attachment: sha256 must be the path's, chunkSize \(AttachmentManifest.chunkSize), and one 64-digit SHA-256 per chunk the size needs.")
        }
        guard manifest.size <= limits.maxAttachmentBytes else {
            throw SyncHubError(
                .attachmentTooLarge,
                "The attachment is \(manifest.size) bytes; this hub takes attachments of at most \(limits.maxAttachmentBytes) bytes.",
                limit: limits.maxAttachmentBytes)
        }
        switch try await storage.offer(manifest, by: device.replicaID, quota: limits.deviceMediaQuotaBytes) {
        case .missing(let missing): return AttachmentOfferResponse(missing: missing)
        case .overQuota(let used, let limit):
            throw SyncHubError(
                .quotaExceeded,
                "This device has uploaded \(used) bytes of attachments; this one (\(manifest.size) bytes) would pass its quota of \(limit) bytes.",
                limit: limit)
        case .wholeMismatch:
            throw SyncHubError(
                .attachmentMismatch,
                "This hub holds every chunk the manifest names, but together they do not match the attachment's SHA-256; the manifest was dropped. Offer the file's true manifest.")
        }
    }

    /// Takes chunk `index` of the attachment `hash` uploaded by `device`.
    public func receive(_ data: Data, index: Int, of hash: String, by device: DeviceRecord) async throws -> ChunkReceipt {
        try await requireWritable(hash, by: device)
        switch try await storage.receive(data, index: index, of: hash) {
        case .unknown:
            throw SyncHubError(
                .notFound, "This hub holds no offer of that attachment with that chunk; offer its manifest first (PUT /v1/attachments/{sha256}).")
        case .mismatch:
            throw SyncHubError(
                .chunkMismatch, "Chunk \(index) does not match the length and SHA-256 its manifest names; nothing of it was kept. Send it again.")
        case .stored(let missing): return ChunkReceipt(complete: false, missing: missing)
        case .complete: return ChunkReceipt(complete: true, missing: 0)
        case .wholeMismatch:
            throw SyncHubError(
                .attachmentMismatch, "Every chunk matched the manifest but the whole file does not match its SHA-256; the manifest was dropped. Offer it again.")
        }
    }

    /// The manifests of `request`'s attachments `device` may receive (within its media policy
    /// unless asked on demand).
    public func manifests(_ request: ManifestsRequest, for device: DeviceRecord) async throws -> ManifestsResponse {
        guard request.attachments.count <= ManifestsRequest.maximumCount,
            request.attachments.allSatisfy(AttachmentDigest.isDigest)
        else {
            throw SyncHubError(
                .malformedRequest,
                "Ask for at most \(ManifestsRequest.maximumCount) attachments at once, each by its SHA-256 as 64 lowercase hexadecimal digits.")
        }
        let policy = request.onDemand == true ? MediaPolicy.all : try await storage.mediaPolicy(of: device.replicaID) ?? .default
        var response = ManifestsResponse(manifests: [], unavailable: [])
        for hash in Set(request.attachments).sorted() {
            let namings = try await storage.namings(of: hash)
            guard try await mayRead(hash, namings, device), let held = try await storage.manifest(of: hash), held.complete else {
                response.unavailable.append(.init(sha256: hash, reason: "not-held"))
                continue
            }
            guard Self.policy(policy, admits: namings, for: device) else {
                response.unavailable.append(.init(sha256: hash, reason: "withheld"))
                continue
            }
            response.manifests.append(held.manifest)
        }
        return response
    }

    /// Chunk `index` of the attachment `hash`, for `device`.
    public func chunk(_ index: Int, of hash: String, for device: DeviceRecord) async throws -> Data {
        let notHeld = SyncHubError(.notFound, "This hub holds no such chunk that this device may read.")
        guard AttachmentDigest.isDigest(hash), try await mayRead(hash, try await storage.namings(of: hash), device),
            let held = try await storage.manifest(of: hash), held.complete, held.manifest.chunks.indices.contains(index),
            let data = try await storage.chunk(held.manifest.chunks[index])
        else { throw notHeld }
        return data
    }

    /// Refuses (403) an attachment no version `device` wrote within its write scope names.
    func requireWritable(_ hash: String, by device: DeviceRecord) async throws {
        let namings = try await storage.namings(of: hash)
        let writable = namings.contains { naming in
            device.isIncarnation(naming.origin)
                && device.grants.write.allows(collection: naming.collection, partition: naming.partition)
        }
        guard writable else {
            throw SyncHubError(
                .forbidden,
                "No version this device wrote within its write scope names this attachment at this hub; sync the document that names it first.")
        }
    }

    /// Whether `device` may read the file `hash`: a version within its read scope names it, by
    /// another author; or one by the device itself does and the device sent the file (a device
    /// restored from a backup fetches its own photos again). Until 7 December 2026 any naming
    /// within the scope did: a device that knew the hash of a photo outside its scope (from a
    /// document it held before its scope was narrowed) named it in a document of its own and
    /// downloaded it.
    func mayRead(_ hash: String, _ namings: [AttachmentNaming], _ device: DeviceRecord) async throws -> Bool {
        let readable = namings.filter { device.grants.read.allows(collection: $0.collection, partition: $0.partition) }
        if readable.contains(where: { !device.isIncarnation($0.origin) }) { return true }
        guard !readable.isEmpty else { return false }
        return try await storage.offered(hash, by: device.replicaID)
    }

    static func policy(_ policy: MediaPolicy, admits namings: [AttachmentNaming], for device: DeviceRecord) -> Bool {
        switch policy {
        case .all: true
        case .none: false
        case .own: namings.contains { device.isIncarnation($0.origin) }
        }
    }
}
