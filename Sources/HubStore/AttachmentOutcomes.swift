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
