/// A hybrid-logical-clock reading: wall-clock milliseconds, then a logical tie-breaker.
///
/// Used to show when something was written and for optional policies; never for causality.
public struct HybridTimestamp: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    /// Milliseconds since 1970-01-01 UTC.
    public var wallMilliseconds: UInt64
    /// Counts events within one millisecond.
    public var logical: UInt32

    public init(wallMilliseconds: UInt64, logical: UInt32 = 0) {
        self.wallMilliseconds = wallMilliseconds
        self.logical = logical
    }

    public static let zero = HybridTimestamp(wallMilliseconds: 0)

    public static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.wallMilliseconds, lhs.logical) < (rhs.wallMilliseconds, rhs.logical)
    }

    public var description: String { "\(wallMilliseconds).\(logical)" }

    enum CodingKeys: String, CodingKey {
        case wallMilliseconds = "wall"
        case logical
    }
}

/// A hybrid logical clock (Kulkarni et al.): monotonic even when the wall clock steps back.
public struct HybridLogicalClock: Sendable, Hashable {
    /// The last reading given out or observed.
    public private(set) var last: HybridTimestamp

    /// Remote readings further than this ahead of the local wall clock are not adopted,
    /// so one device with a wrong clock cannot drag every other clock forward.
    public static let maximumForwardDrift: UInt64 = 24 * 60 * 60 * 1000

    public init(last: HybridTimestamp = .zero) { self.last = last }

    /// A reading for a local event at wall time `now` (milliseconds), later than every earlier one.
    public mutating func tick(now: UInt64) -> HybridTimestamp {
        if now > last.wallMilliseconds {
            last = HybridTimestamp(wallMilliseconds: now)
        } else if last.logical == .max {
            last = HybridTimestamp(wallMilliseconds: last.wallMilliseconds + 1)
        } else {
            last.logical += 1
        }
        return last
    }

    /// Takes a remote reading into account so that later local readings come after it.
    public mutating func observe(_ remote: HybridTimestamp, now: UInt64) {
        guard remote > last, remote.wallMilliseconds <= now &+ Self.maximumForwardDrift else { return }
        last = remote
    }
}
