import ReplicaStore
import SyncEngine

/// The opaque pull checkpoint the hub gives out: where the device's next page starts, and the
/// fingerprint of the grants it was made under, so that the hub sees when they changed.
///
/// Text forms, each position being `0` (the start) or `<sequence>.<origin>:<counter>.<tag>` (the
/// dot stored at that sequence and the random tag drawn when it was stored, in hex, so that a
/// checkpoint from another hub, or from before the hub was restored from a backup, is recognised
/// even where the same version was stored again at the same sequence; `.<tag>` is absent in
/// checkpoints from before tags):
/// - `<position>`: made under read-and-write-everything (and every checkpoint from before grants existed);
/// - `<position>~<grants>`: made under the grants with that fingerprint;
/// - `<position>~<grants>~<until>~<previous>`: while the documents newly in scope are delivered
///   after the read scope widened: the page scans from the start to `until` for what the grants
///   `previous` did not cover, then the pull goes on from `until`.
struct PullCheckpoint: Hashable {
    /// Where the next page starts.
    var position: FeedPosition
    /// The fingerprint of the grants it was made under; nil in a checkpoint from before grants.
    var grants: String?
    /// The catch-up after a widened read scope, when one runs.
    var backfill: Backfill?

    /// A catch-up after a widened read scope.
    struct Backfill: Hashable {
        /// Where the pull was when the scope widened: the catch-up ends there, and the pull goes on.
        var until: FeedPosition
        /// The fingerprint of the grants the device had up to `until`.
        var previousGrants: String
    }

    init(position: FeedPosition, grants: String?, backfill: Backfill? = nil) {
        self.position = position
        self.grants = grants
        self.backfill = backfill
    }

    /// Parses a checkpoint; nil when it is not one this format produces.
    init?(_ text: String) {
        guard text.utf8.count <= 200 else { return nil }
        let parts = text.split(separator: "~", omittingEmptySubsequences: false).map(String.init)
        guard let position = Self.position(parts[0]) else { return nil }
        switch parts.count {
        case 1:
            self.init(position: position, grants: nil)
        case 2 where Self.isFingerprint(parts[1]):
            self.init(position: position, grants: parts[1] == AccessGrants.everything.fingerprint ? nil : parts[1])
        case 4 where Self.isFingerprint(parts[1]) && Self.isFingerprint(parts[3]):
            guard let until = Self.position(parts[2]) else { return nil }
            // Read-and-write-everything is written out only where the form needs it.
            let grants = parts[1] == AccessGrants.everything.fingerprint ? nil : parts[1]
            self.init(position: position, grants: grants, backfill: Backfill(until: until, previousGrants: parts[3]))
        default:
            return nil
        }
    }

    /// The text form.
    var text: String {
        var text = Self.text(position)
        if let backfill {
            text += "~\(grants ?? AccessGrants.everything.fingerprint)~\(Self.text(backfill.until))~\(backfill.previousGrants)"
        } else if let grants {
            text += "~\(grants)"
        }
        return text
    }

    private static func text(_ position: FeedPosition) -> String {
        guard position.sequence > 0, let dot = position.dot else { return "0" }
        guard let tag = position.tag else { return "\(position.sequence).\(dot)" }
        return "\(position.sequence).\(dot).\(String(tag, radix: 16))"
    }

    private static func position(_ text: String) -> FeedPosition? {
        if text == "0" { return .start }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2 || parts.count == 3, let sequence = Int64(parts[0]), sequence > 0, let dot = Dot(parts[1])
        else { return nil }
        guard parts.count == 3 else { return FeedPosition(sequence: sequence, dot: dot) }
        guard parts[2].utf8.count <= 8, let tag = UInt32(parts[2], radix: 16) else { return nil }
        return FeedPosition(sequence: sequence, dot: dot, tag: tag)
    }

    private static func isFingerprint(_ text: String) -> Bool {
        text.utf8.count == 16 && text.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) }
    }
}
