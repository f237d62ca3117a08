/// A collection's name: a lowercase letter, then up to 63 lowercase letters, digits, `_` or `-`.
public struct CollectionName: Hashable, Comparable, Sendable, CustomStringConvertible, Codable {
    public let rawValue: String

    /// Checks a name; nil when it breaks the rule above.
    public init?(_ text: String) {
        let utf8 = Array(text.utf8)
        guard (1...64).contains(utf8.count), (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(utf8[0])
        else { return nil }
        let allowed = utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
        }
        guard allowed else { return nil }
        rawValue = text
    }

    /// A name of this package's own, known to satisfy the rule (the record kinds' collections).
    package init(known text: String) { rawValue = text }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        guard let name = CollectionName(try container.decode(String.self)) else {
            throw DecodingError.dataCorruptedError(
                in: container,
                debugDescription: "A collection name is a lowercase letter then lowercase letters, digits, '_' or '-'.")
        }
        self = name
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public var description: String { rawValue }
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// A document's partition, fixed when the document is created (for observations: the region).
///
/// 1 to 64 letters, digits, `.`, `_`, `-` or `:`. Scopes grant access by partition pattern.
public struct Partition: Hashable, Comparable, Sendable, CustomStringConvertible, Codable {
    public let rawValue: String

    /// The partition of documents written without one.
    public static let `default` = Partition(unchecked: "default")

    /// Checks a partition; nil when it breaks the rule above.
    public init?(_ text: String) {
        guard text.utf8.count <= 64, DocumentID.isValid(text) else { return nil }
        rawValue = text
    }

    private init(unchecked text: String) { rawValue = text }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        guard let partition = Partition(try container.decode(String.self)) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "A partition is 1 to 64 letters, digits, '.', '_', '-' or ':'.")
        }
        self = partition
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public var description: String { rawValue }
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}
