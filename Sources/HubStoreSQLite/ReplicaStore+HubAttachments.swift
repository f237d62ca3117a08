public import Foundation
import GRDB
public import HubStore
public import ReplicaStore
public import SyncEngine

/// The hub's side of attachments: uploads counted per device, and media policies.
extension ReplicaStore {
    /// Takes `manifest` offered by `device`: refuses it over `quota` bytes of the device's uploads
    /// (0 for no quota), else records it and says which chunks the hub lacks. When it lacks none of
    /// a file not yet held whole (a 0-byte file, one made of chunks other files share, one offered
    /// again after a false manifest was dropped), no chunk will arrive to check the whole, so it is
    /// checked here as at a last chunk (``ReplicaStore/completeAttachment(_:)``): held whole, or
    /// ``AttachmentOfferOutcome/wholeMismatch`` with the manifest dropped.
    public func offerAttachment(_ manifest: AttachmentManifest, by device: ReplicaID, quota: Int) throws
        -> AttachmentOfferOutcome
    {
        let offered = try recordOffer(manifest, by: device, quota: quota)
        guard offered == .missing([]) else { return offered }
        if try completeAttachment(manifest.sha256) { return .missing([]) }
        // Dropped as false; or changed since by another offer: what is lacked of what is here now.
        guard let current = try attachmentManifest(manifest.sha256) else { return .wholeMismatch }
        return .missing(try missingChunks(of: current.manifest))
    }

    /// Counts `manifest` against `device`'s quota (``AttachmentCharge``) and records it; the
    /// chunks lacked of it.
    private func recordOffer(_ manifest: AttachmentManifest, by device: ReplicaID, quota: Int) throws
        -> AttachmentOfferOutcome
    {
        let now = Int64(clamping: options.now())
        return try write { db in
            let held = try Self.manifest(db, manifest.sha256)
            if let held, held.complete { return .missing([]) }
            let charged = try Int.fetchOne(
                db, sql: "SELECT size FROM attachment_uploads WHERE device = ? AND sha256 = ?",
                arguments: [device.hex, manifest.sha256])
            let charge = AttachmentCharge.charge(offered: manifest, charged: charged, current: held?.manifest)
            if charge > 0 {
                let used = try Int.fetchOne(
                    db, sql: "SELECT coalesce(sum(size), 0) FROM attachment_uploads WHERE device = ?",
                    arguments: [device.hex]) ?? 0
                if quota > 0, used + charge > quota {
                    return .overQuota(used: used, limit: quota)
                }
                try db.execute(
                    sql: """
                        INSERT INTO attachment_uploads (sha256, device, size) VALUES (?, ?, ?)
                        ON CONFLICT (device, sha256) DO UPDATE SET size = excluded.size
                        """,
                    arguments: [manifest.sha256, device.hex, AttachmentCharge.total(charged: charged, charge: charge)])
            }
            try Self.saveManifest(db, manifest, now: now)
            guard let current = try Self.manifest(db, manifest.sha256)?.manifest else { return .missing([]) }
            return .missing(try Self.missingChunks(db, current))
        }
    }

    /// Takes chunk `index` of the attachment `hash`: refuses bytes that are not that chunk, keeps
    /// the others once, and checks the whole file when its last chunk arrives.
    public func receiveChunk(_ data: Data, index: Int, of hash: String) throws -> ChunkOutcome {
        guard let (manifest, complete) = try attachmentManifest(hash), manifest.chunks.indices.contains(index) else {
            return .unknown
        }
        guard manifest.accepts(data, asChunk: index) else { return .mismatch }
        if complete { return .complete }
        try storeChunk(data, hash: manifest.chunks[index])
        let missing = try missingChunks(of: manifest).count
        guard missing == 0 else { return .stored(missing: missing) }
        if try completeAttachment(hash) { return .complete }
        // Replaced meanwhile by another offer's manifest (checked when its own chunks are here):
        // this chunk is kept, and the sender is told what the file lacks now.
        guard let current = try attachmentManifest(hash), current.manifest != manifest else { return .wholeMismatch }
        return .stored(missing: try missingChunks(of: current.manifest).count)
    }

    /// Whether `device` was charged for an offer of `hash` (``HubAttachmentStorage/offered(_:by:)``).
    public func offeredAttachment(_ hash: String, by device: ReplicaID) throws -> Bool {
        try read { db in
            try Int.fetchOne(
                db, sql: "SELECT 1 FROM attachment_uploads WHERE device = ? AND sha256 = ?", arguments: [device.hex, hash]) != nil
        }
    }

    /// The bytes of attachments `device` offered, counted against its quota.
    public func uploadedBytes(by device: ReplicaID) throws -> Int {
        try read { db in
            try Int.fetchOne(
                db, sql: "SELECT coalesce(sum(size), 0) FROM attachment_uploads WHERE device = ?", arguments: [device.hex])
                ?? 0
        }
    }

    /// The media policy of the enrolled device `device` (set on it, else on the code that enrolled
    /// it); nil when none was set.
    public func mediaPolicy(of device: ReplicaID) throws -> MediaPolicy? {
        try read { db in
            try String.fetchOne(
                db,
                sql: """
                    SELECT coalesce(d.media, (SELECT c.media FROM enrollment_codes c WHERE c.used_by = d.replica_id
                        AND c.media IS NOT NULL ORDER BY c.used_at DESC LIMIT 1))
                    FROM devices d WHERE d.replica_id = ?
                    """, arguments: [device.hex]
            ).flatMap(MediaPolicy.init(rawValue:))
        }
    }

    /// Sets the media policy of the enrolled device `device`; false when there is none.
    @discardableResult
    public func setMediaPolicy(_ policy: MediaPolicy, of device: ReplicaID) throws -> Bool {
        try write { db in
            try db.execute(sql: "UPDATE devices SET media = ? WHERE replica_id = ?", arguments: [policy.rawValue, device.hex])
            return db.changesCount > 0
        }
    }

    /// Sets the media policy the device enrolled with the code whose hash is `codeHash` will have.
    public func setMediaPolicy(_ policy: MediaPolicy, ofCode codeHash: Data) throws {
        try write { db in
            try db.execute(
                sql: "UPDATE enrollment_codes SET media = ? WHERE code_hash = ?", arguments: [policy.rawValue, codeHash])
        }
    }
}
