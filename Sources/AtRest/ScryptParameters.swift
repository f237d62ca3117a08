/// The cost of deriving the key that wraps a replica's data key from its passphrase with scrypt:
/// N = 2^`logN` rounds, block size `r`, parallelism `p`. They are stored with the wrapped key, so
/// a replica keeps opening after the defaults are raised, and re-wrapping with new ones rewrites
/// only that small file.
public struct ScryptParameters: Sendable, Hashable, Codable {
    public var logN: Int
    public var r: Int
    public var p: Int

    public init(logN: Int, r: Int, p: Int) {
        self.logN = logN
        self.r = r
        self.p = p
    }

    /// The default for new replicas: N = 2^18, r = 8, p = 1, 256 MiB of memory, about one second
    /// on the reference machine (see Docs/Security.md for the measurement).
    public static let standard = ScryptParameters(logN: 18, r: 8, p: 1)

    /// Cheap parameters for tests only (1 MiB, about a millisecond): never for a real replica.
    public static let testing = ScryptParameters(logN: 10, r: 8, p: 1)

    /// The most memory a derivation may take: parameters read from a file never ask for more.
    public static let maximumMemory = 2 << 30

    /// The memory one derivation takes, in bytes (scrypt's V array).
    public var memory: Int { 128 * (r << logN) }

    /// Throws ``AtRestError/Code/parametersOutOfBounds`` unless 10 ≤ logN ≤ 24, 1 ≤ r ≤ 32,
    /// 1 ≤ p ≤ 16 and the memory stays within ``maximumMemory``.
    public func validate() throws {
        guard (10...24).contains(logN), (1...32).contains(r), (1...16).contains(p), memory <= Self.maximumMemory else {
            throw AtRestError(
                .parametersOutOfBounds,
                "The key-derivation parameters (logN \(logN), r \(r), p \(p)) are outside the accepted bounds.")
        }
    }
}
