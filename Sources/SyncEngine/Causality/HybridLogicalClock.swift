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

    /// The largest wall time a reading may carry: replicas store it as a signed 64-bit integer,
    /// and a signature covers the exact value, so a larger one is refused when decoded rather
    /// than clamped on storage (which would break the signature for every reader).
    public static let maximumWallMilliseconds = UInt64(Int64.max)

    enum CodingKeys: String, CodingKey {
        case wallMilliseconds = "wall"
        case logical
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let wall = try container.decode(UInt64.self, forKey: .wallMilliseconds)
        guard wall <= Self.maximumWallMilliseconds else {
            throw DecodingError.dataCorruptedError(
                forKey: .wallMilliseconds, in: container,
                debugDescription: "A wall time is at most \(Self.maximumWallMilliseconds) milliseconds.")
        }
        self.init(wallMilliseconds: wall, logical: try container.decode(UInt32.self, forKey: .logical))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(wallMilliseconds, forKey: .wallMilliseconds)
        try container.encode(logical, forKey: .logical)
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
