import SyncEngine

/// Which stretch of the changes feed one exchange pulls for a device, given its checkpoint and its
/// grants now.
///
/// Grants unchanged since the checkpoint: the pull goes on from it. A narrowed read scope: it goes
/// on too, and the answer carries the new grants, so the device forgets what it may no longer hold.
/// A widened one: the pull first scans the feed from the start up to the checkpoint for the
/// versions the earlier grants did not cover (the documents newly in scope, with their history),
/// then goes on from the checkpoint. A checkpoint made under grants the hub does not know (it never
/// gave them out: another hub's, or one from before a restore) restarts the pull from the start and
/// counts as reset.
struct PullPlan: Sendable {
    /// Where the page starts.
    var after: FeedPosition
    /// Where the page ends at the latest (during a catch-up).
    var through: FeedPosition?
    /// During a catch-up, what the device already received: versions it covers are passed over.
    var alreadyRead: Scope?
    /// The device may have forgotten versions it delivered itself (relays of others' versions,
    /// outside an earlier, narrower scope): this pull sends them, and its own, too. Only within a
    /// catch-up's range: a relay the device delivered during a catch-up and forgot before it ended
    /// is not sent again (relays happen only after a hub restore; its own versions it never loses).
    var resendsOwn = false
    /// The catch-up this pull belongs to.
    var backfill: PullCheckpoint.Backfill?
    /// The device's grants differ from those the checkpoint was made under (or it has none yet):
    /// the answer carries them.
    var grantsChanged: Bool
    /// The fingerprint the answer's checkpoint carries; nil for read-and-write-everything, whose
    /// checkpoints keep the form from before grants existed.
    let fingerprint: String?
    /// The checkpoint names grants this hub never gave out: it is another hub's, or this hub was
    /// restored from a backup taken before it gave them. The pull starts over, and the answer says
    /// the checkpoint was reset (so the device states what it believes the hub holds).
    var isForeign = false

    /// A pull from the start of the feed for a checkpoint made under grants this hub does not know.
    static func foreign(grantsChanged: Bool, fingerprint: String?) -> PullPlan {
        PullPlan(after: .start, resendsOwn: true, grantsChanged: grantsChanged, fingerprint: fingerprint, isForeign: true)
    }

    /// Plans the pull of a device holding `grants`; `lookup` finds the grants a fingerprint stands for.
    static func plan(
        checkpoint text: String?, grants: AccessGrants,
        lookup: (String) async throws -> AccessGrants?
    ) async throws -> PullPlan {
        let fingerprint = grants == .everything ? nil : grants.fingerprint
        guard let text else {
            return PullPlan(after: .start, grantsChanged: true, fingerprint: fingerprint)
        }
        guard let checkpoint = PullCheckpoint(text) else {
            // Not one of this hub's: the storage restarts the page, and the answer says so.
            return PullPlan(after: FeedPosition(sequence: -1, dot: nil), grantsChanged: true, fingerprint: fingerprint)
        }
        /// The read scope a fingerprint stands for.
        func readScope(_ fingerprint: String) async throws -> Scope? {
            if fingerprint == Self.nothingRead { return .nothing }
            return try await lookup(fingerprint)?.read
        }
        let made = checkpoint.grants ?? AccessGrants.everything.fingerprint
        if checkpoint.grants == fingerprint {
            guard let backfill = checkpoint.backfill else {
                return PullPlan(after: checkpoint.position, grantsChanged: false, fingerprint: fingerprint)
            }
            guard let previous = try await readScope(backfill.previousGrants) else {
                return .foreign(grantsChanged: false, fingerprint: fingerprint)
            }
            return PullPlan(
                after: checkpoint.position, through: backfill.until, alreadyRead: previous, resendsOwn: true,
                backfill: backfill, grantsChanged: false, fingerprint: fingerprint)
        }
        // The grants changed. What the device surely holds up to where its pull was: what the grants
        // of its checkpoint let it read (it forgot the rest when it received them), and during a
        // catch-up only what both those and the earlier grants cover, up to where the catch-up ends.
        guard let current = try await readScope(made) else {
            return .foreign(grantsChanged: true, fingerprint: fingerprint)
        }
        var held = (scope: current, fingerprint: made)
        var until = checkpoint.position
        if let backfill = checkpoint.backfill {
            guard let earlier = try await readScope(backfill.previousGrants) else {
                return .foreign(grantsChanged: true, fingerprint: fingerprint)
            }
            until = backfill.until
            if earlier.isCovered(by: current) {
                held = (earlier, backfill.previousGrants)
            } else if !current.isCovered(by: earlier) {
                held = (.nothing, Self.nothingRead)
            }
        }
        if grants.read.isCovered(by: held.scope) || until == .start {
            return PullPlan(after: until, grantsChanged: true, fingerprint: fingerprint)
        }
        return PullPlan(
            after: .start, through: until, alreadyRead: held.scope, resendsOwn: true,
            backfill: PullCheckpoint.Backfill(until: until, previousGrants: held.fingerprint), grantsChanged: true,
            fingerprint: fingerprint)
    }

    /// The fingerprint a catch-up records when the device may hold nothing it need not be sent.
    static let nothingRead = AccessGrants(read: .nothing, write: .nothing).fingerprint

    /// Whether the pull sends `version` (beyond the reader's own rules): in the read scope, and
    /// during a catch-up, not covered by what the device already read.
    /// Makes this a pull of everything in scope from the start of the feed, with no catch-up.
    mutating func startOver() {
        after = .start
        through = nil
        alreadyRead = nil
        backfill = nil
    }

    /// The checkpoint to give out after `page`, and whether more waits.
    func checkpoint(after page: FeedPage) -> (text: String, more: Bool) {
        if let backfill, !page.restarted {
            if page.hasMore {
                return (PullCheckpoint(position: page.end, grants: fingerprint, backfill: backfill).text, true)
            }
            // The catch-up is done: the pull goes on from where it was.
            return (PullCheckpoint(position: backfill.until, grants: fingerprint).text, true)
        }
        return (PullCheckpoint(position: page.end, grants: fingerprint).text, page.hasMore)
    }
}
