/// What one sync did, for the summary line, `--json` and the daemon's log.
public struct SyncSummary: Sendable, Hashable, Codable {
    /// Pushed versions the hub now holds and did not reject.
    public var versionsPushed = 0
    /// Versions received from the hub.
    public var versionsPulled = 0
    /// Pushed versions the hub rejected (set aside here, shown in status).
    public var rejected = 0
    /// Bytes sent on the wire, headers included.
    public var bytesSent = 0
    /// Bytes received on the wire, headers included.
    public var bytesReceived = 0
    /// HTTP requests that got an answer.
    public var roundTrips = 0
    /// Wall time of the whole sync.
    public var seconds = 0.0
    /// Pulled versions whose signature does not verify against their origin's key, or whose
    /// origin's key this replica lacks (kept and applied, flagged in history and `fieldcli verify`).
    public var unverified = 0
    /// Documents this replica forgot because its read scope at the hub narrowed.
    public var documentsForgotten = 0
    /// The sync stopped because its byte budget was spent (``Synchronizer/Configuration/byteBudget``):
    /// what is left waits for the next one.
    public var budgetSpent = false

    public init() {}

    /// Nothing moved either way.
    public var isQuiet: Bool { versionsPushed == 0 && versionsPulled == 0 && rejected == 0 }
}

/// Progress of a running sync, after each round trip.
public struct SyncProgress: Sendable, Hashable {
    /// Round trips so far (pages).
    public var roundTrips: Int
    public var versionsPushed: Int
    public var versionsPulled: Int
    public var bytesSent: Int
    public var bytesReceived: Int
    /// Whether more pages wait at the hub.
    public var more: Bool

    public init(summary: SyncSummary, more: Bool) {
        roundTrips = summary.roundTrips
        versionsPushed = summary.versionsPushed
        versionsPulled = summary.versionsPulled
        bytesSent = summary.bytesSent
        bytesReceived = summary.bytesReceived
        self.more = more
    }
}
