/// One write's identity: the replica that made it and that replica's counter at the time.
///
/// Counters start at 1 and never repeat within a replica. They are kept at or below
/// ``Dot/maxCounter`` so that every store can hold them as a signed 64-bit integer.
public struct Dot: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public var replica: ReplicaID
    public var counter: UInt64

    /// The largest counter any replica may use (`Int64.max`).
    public static let maxCounter = UInt64(Int64.max)

    public init(replica: ReplicaID, counter: UInt64) {
        self.replica = replica
        self.counter = counter
    }

    /// Replica, then counter: the order in which versions of one origin are delivered.
    public static func < (lhs: Dot, rhs: Dot) -> Bool {
        (lhs.replica, lhs.counter) < (rhs.replica, rhs.counter)
    }

    /// `replica:counter`, for messages and logs.
    public var description: String { "\(replica.hex):\(counter)" }

    /// Parses the ``description`` form.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let replica = ReplicaID(parts[0]), let counter = UInt64(parts[1]),
            counter >= 1, counter <= Dot.maxCounter
        else { return nil }
        self.init(replica: replica, counter: counter)
    }
}
