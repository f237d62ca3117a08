public import SyncEngine

/// How many of the versions a device pushed the hub holds set aside (stored, kept out of their
/// documents) or quarantined apart, by kind.
public struct SetAsideCounts: Sendable, Hashable {
    /// Refused for what they say: outside the device's write scope, or not a valid record.
    public var rejected = 0
    /// Kept apart for how they came: a signature that does not verify, a context naming versions
    /// the hub does not hold, or another origin's dot claimed with a forged signature.
    public var quarantined = 0

    public init(rejected: Int = 0, quarantined: Int = 0) {
        self.rejected = rejected
        self.quarantined = quarantined
    }
}

/// One page of the console's fleet: devices by name (byte order), then enrollment time, whether
/// more follow, and what the hub set aside of each one's pushes (``SetAsideCounts``, by enrolled
/// replica id; a device with nothing set aside is left out).
public struct FleetPage: Sendable {
    public var devices: [DeviceRecord]
    public var more: Bool
    public var setAside: [ReplicaID: SetAsideCounts]

    public init(devices: [DeviceRecord], more: Bool, setAside: [ReplicaID: SetAsideCounts]) {
        self.devices = devices
        self.more = more
        self.setAside = setAside
    }

    /// Where a fleet page starts: after this device's name and enrollment time.
    public typealias Position = (name: String, enrolledAt: UInt64)

    /// The most devices one page holds.
    public static let maximumSize = 500
}
