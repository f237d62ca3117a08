/// A deterministic random number generator (SplitMix64) for reproducible tests.
///
/// Every randomized test draws from one of these, seeded from ``propertySeeds``
/// or from a seed it prints, so a failure replays exactly from that seed.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    /// The seed this generator started from, for failure messages.
    public let seed: UInt64
    private var state: UInt64

    /// A generator whose whole sequence is determined by `seed`.
    public init(seed: UInt64) {
        self.seed = seed
        self.state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Fixed seeds for seeded property tests and simulations: `@Test(arguments: propertySeeds)`.
public let propertySeeds: [UInt64] = [
    1, 2, 3, 42, 0xC0FFEE, 0xDEAD_BEEF, 0x5EED_0F_716_11, 0xFFFF_FFFF_FFFF_FFFF,
]
