/// One grant of a scope: a collection pattern and a partition pattern, written
/// `collection/partition`, such as `observations/SD-*`.
///
/// Each side is `*` (any), a name, or a prefix ending in `*` (`SD-*` matches `SD-DN` and `SD-KH`).
/// A pattern without `/` covers every partition of its collections: `situations` is `situations/*`.
public struct ScopePattern: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The collection side, as written (`*`, a name, or a prefix and `*`).
    public let collection: String
    /// The partition side, as written.
    public let partition: String

    /// Every collection, every partition.
    public static let everything = ScopePattern(collection: "*", partition: "*")

    private init(collection: String, partition: String) {
        self.collection = collection
        self.partition = partition
    }

    /// Parses a pattern; nil when a side holds a character its names never hold, or a `*` other
    /// than at its end.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let collection = String(parts[0])
        let partition = parts.count > 1 ? String(parts[1]) : "*"
        guard Self.isValid(collection, name: { CollectionName($0) != nil }),
            Self.isValid(partition, name: { Partition($0) != nil })
        else { return nil }
        self.init(collection: collection, partition: partition)
    }

    /// Whether the pattern covers documents of `collection` in `partition`.
    public func matches(collection: CollectionName, partition: Partition) -> Bool {
        Self.matches(self.collection, collection.rawValue) && Self.matches(self.partition, partition.rawValue)
    }

    /// Whether every document this pattern covers, `other` covers too.
    public func isCovered(by other: ScopePattern) -> Bool {
        Self.isCovered(collection, by: other.collection) && Self.isCovered(partition, by: other.partition)
    }

    public var description: String { "\(collection)/\(partition)" }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.description < rhs.description }

    /// A side is `*`, a valid name, or a valid name's prefix followed by one `*`.
    private static func isValid(_ side: String, name: (String) -> Bool) -> Bool {
        if side == "*" { return true }
        guard let star = side.firstIndex(of: "*") else { return name(side) }
        guard star == side.index(before: side.endIndex) else { return false }
        // The prefix must be the start of some valid name: check it with one allowed character added.
        let prefix = String(side[..<star])
        return name(prefix) || name(prefix + "a") || name(prefix + "0")
    }

    private static func matches(_ side: String, _ value: String) -> Bool {
        guard side.hasSuffix("*") else { return side == value }
        return value.hasPrefix(side.dropLast())
    }

    private static func isCovered(_ side: String, by other: String) -> Bool {
        guard other.hasSuffix("*") else { return side == other }
        return side.hasPrefix(other.dropLast())
    }
}
