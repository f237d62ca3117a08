
/// What a hub holds, counted for its operators' metrics.
public struct HubCounts: Sendable, Hashable {
    /// Enrolled devices by state.
    public var activeDevices = 0
    public var revokedDevices = 0
    /// The feed's last position: every version the hub ever stored takes one.
    public var feedPosition: Int64 = 0
    /// Versions held apart: set aside in the versions table, and forged or implausible ones kept
    /// in the foreign quarantine.
    public var quarantined = 0

    public init() {}
}
