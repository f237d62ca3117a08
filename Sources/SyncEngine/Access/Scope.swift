import Foundation

/// What a device may read, or write: a set of ``ScopePattern``s. A document is in scope when one
/// pattern matches its collection and partition.
///
/// Its text form lists the patterns separated by commas (`observations/SD-*,situations`), `*` for
/// everything and `none` for nothing; ``text`` is canonical (sorted, without patterns another covers).
public struct Scope: Hashable, Sendable, CustomStringConvertible, Codable {
    /// The patterns, sorted, none covered by another.
    public let patterns: [ScopePattern]

    /// Everything: `*/*`.
    public static let everything = Scope(patterns: [.everything])
    /// Nothing.
    public static let nothing = Scope(patterns: [])

    /// A scope of `patterns` (reduced to canonical form).
    public init(patterns: some Sequence<ScopePattern>) {
        let unique = Set(patterns)
        self.patterns = unique.filter { pattern in
            !unique.contains { $0 != pattern && pattern.isCovered(by: $0) }
        }.sorted()
    }

    /// Parses the text form; nil when a pattern is invalid.
    public init?(text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed == "none" {
            self = .nothing
            return
        }
        var patterns: [ScopePattern] = []
        for part in trimmed.split(separator: ",", omittingEmptySubsequences: false) {
            guard let pattern = ScopePattern(part.trimmingCharacters(in: .whitespaces)) else { return nil }
            patterns.append(pattern)
        }
        self.init(patterns: patterns)
    }

    /// Whether the scope covers documents of `collection` in `partition`.
    public func allows(collection: CollectionName, partition: Partition) -> Bool {
        patterns.contains { $0.matches(collection: collection, partition: partition) }
    }

    /// Whether every document this scope covers, `other` covers too (a sufficient check: a pattern
    /// covered only by several of `other`'s together counts as not covered).
    public func isCovered(by other: Scope) -> Bool {
        patterns.allSatisfy { pattern in other.patterns.contains { pattern.isCovered(by: $0) } }
    }

    /// The canonical text form.
    public var text: String {
        if patterns.isEmpty { return "none" }
        if patterns == [.everything] { return "*" }
        return patterns.map(\.description).joined(separator: ",")
    }

    public var description: String { text }

    /// Encodes as an array of pattern strings.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let texts = try container.decode([String].self)
        var patterns: [ScopePattern] = []
        for text in texts {
            guard let pattern = ScopePattern(text) else {
                throw DecodingError.dataCorruptedError(
                    in: container,
                    debugDescription: "'\(text)' is not a scope pattern: collection/partition, each a name, a prefix and '*', or '*'.")
            }
            patterns.append(pattern)
        }
        self.init(patterns: patterns)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(patterns.map(\.description))
    }
}
