public import SyncEngine

/// What a hub answers to an attachment offered by a device.
public enum AttachmentOfferOutcome: Sendable, Hashable {
    /// The chunks still lacked (empty: the hub holds the whole file).
    case missing([Int])
    /// Taking it would bring the device's uploads above its quota.
    case overQuota(used: Int, limit: Int)
    /// The hub already held every chunk the manifest names, but together they do not match the
    /// attachment's SHA-256: the manifest was false and is dropped (as ``ChunkOutcome/wholeMismatch``
    /// at a last chunk).
    case wholeMismatch
}

/// What an offered manifest costs its device against its upload quota, the same on every backend.
public enum AttachmentCharge {
    /// The bytes to add to what `device` was charged for the file (`charged`, nil before its first
    /// offer of it) when it offers `offered` and the hub holds `current` (an incomplete manifest,
    /// or none): a first offer costs its size; the manifest the hub holds (an upload resumed)
    /// only what it claims beyond the charge; any other chunk list (another, or one offered again
    /// after a false one was dropped) its whole size again, since every chunk of it may be new.
    /// Until 7 December 2026 a file was charged once whatever the chunk lists offered for it: a
    /// device could offer false manifests of one size again and again and fill the hub's disk
    /// with their chunks within one charge.
    public static func charge(offered: AttachmentManifest, charged: Int?, current: AttachmentManifest?) -> Int {
        guard let charged else { return offered.size }
        guard current == offered else { return offered.size }
        return max(0, offered.size - charged)
    }

    /// What the device is charged for the file after `charge`: kept below 2^50, so that offers
    /// on a hub without a quota never add up past what a count can hold.
    public static func total(charged: Int?, charge: Int) -> Int {
        min(1 << 50, max(0, charged ?? 0) + charge)
    }
}

/// What a hub did with one uploaded chunk.
public enum ChunkOutcome: Sendable, Hashable {
    /// No manifest of this attachment was offered, or the index is outside it.
    case unknown
    /// The bytes are not that chunk (length or SHA-256): refused, nothing kept.
    case mismatch
    /// Kept; this many chunks of the file are still lacked.
    case stored(missing: Int)
    /// Kept, and the whole file is now held and matched its SHA-256.
    case complete
    /// Every chunk matched the manifest but the whole did not match the attachment's SHA-256: the
    /// manifest was false and is dropped.
    case wholeMismatch
}
