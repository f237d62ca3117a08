/// A pulled version whose signature failed on the device, reported to the hub in a later exchange
/// so that its operators learn of it (the hub checked the version when it was pushed: a failure
/// here means the hub served altered bytes or a wrong key).
public struct VerificationReport: Codable, Sendable, Hashable {
    /// Why the version failed, for programs.
    public struct Reason: RawRepresentable, Codable, Sendable, Hashable {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        /// The signature does not verify against the origin's key the device holds.
        public static let badSignature = Reason(rawValue: "bad-signature")
        /// The device holds no key for the origin (no certificate by the hub it pinned).
        public static let unknownKey = Reason(rawValue: "unknown-key")
        /// The origin was revoked and the version lies above its revocation horizon.
        public static let revoked = Reason(rawValue: "revoked")
    }

    public var origin: ReplicaID
    public var counter: UInt64
    public var reason: Reason

    public init(dot: Dot, reason: Reason) {
        origin = dot.replica
        counter = dot.counter
        self.reason = reason
    }

    public var dot: Dot { Dot(replica: origin, counter: counter) }
}
