/// What a hub made of a device's reports of pulled versions that failed verification there.
public struct VerificationReportOutcome: Sendable, Hashable {
    /// Reports recorded in the audit log (or counted against the device's hourly limit).
    public var accepted: Int
    /// Reports about versions the hub never served that device (it does not hold them, or
    /// received them from that device): ignored, and counted in one audit entry.
    public var ignored: Int

    public init(accepted: Int, ignored: Int) {
        self.accepted = accepted
        self.ignored = ignored
    }
}
