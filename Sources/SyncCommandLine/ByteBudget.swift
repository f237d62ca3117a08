public import ArgumentParser

/// A byte budget on the command line (`fieldcli sync --budget`, `syncd run --budget-per-day`): `5MB`, `500KB`, `2GB`, `1MiB` or a plain count of bytes.
/// KB, MB and GB are powers of 1,000 (as `fieldcli sync` prints sizes), KiB, MiB and GiB of 1,024.
public struct ByteBudget: ExpressibleByArgument, Sendable, Hashable {
    public let bytes: Int

    /// The largest budget taken: 1 TB.
    static let maximum = 1_000_000_000_000

    static let units: [(suffix: String, factor: Int)] = [
        ("KIB", 1 << 10), ("MIB", 1 << 20), ("GIB", 1 << 30), ("KB", 1_000), ("MB", 1_000_000), ("GB", 1_000_000_000),
        ("B", 1),
    ]

    public init?(argument: String) {
        let text = argument.uppercased().filter { $0 != " " }
        let unit = Self.units.first { text.hasSuffix($0.suffix) } ?? ("", 1)
        guard let count = Int(text.dropLast(unit.suffix.count)), count >= 0,
            count <= Self.maximum / unit.factor
        else { return nil }
        bytes = count * unit.factor
    }

    public static var defaultCompletionKind: CompletionKind { .default }
}
