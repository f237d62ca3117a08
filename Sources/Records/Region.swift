public import SyncEngine

/// Where a record sits: a country (ISO 3166-1 alpha-2) and optionally its first administrative
/// level (ISO 3166-2 subdivision code, such as `SD-DN`). It becomes the record's partition.
public struct Region: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The ISO 3166-1 alpha-2 country code, such as `SD`.
    public let country: String
    /// The ISO 3166-2 code of the first administrative level, such as `SD-DN`; nil for a whole country.
    public let admin1: String?

    static let countryRule = "an ISO 3166-1 alpha-2 country code in capitals, such as 'SD'"
    static let admin1Rule = "an ISO 3166-2 subdivision code of the record's country, such as 'SD-DN'"

    /// Checks a country code and an optional subdivision code of that country.
    public init?(country: String, admin1: String?) {
        guard Self.isCountry(country) else { return nil }
        if let admin1 {
            guard Self.isSubdivision(admin1), admin1.hasPrefix(country + "-") else { return nil }
        }
        self.country = country
        self.admin1 = admin1
    }

    /// Parses `SD` or `SD-DN`.
    public init?(_ text: String) {
        let parts = text.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        self.init(country: String(parts.first ?? ""), admin1: parts.count == 2 ? text : nil)
    }

    static func isCountry(_ text: String) -> Bool {
        text.utf8.count == 2 && text.utf8.allSatisfy { (0x41...0x5A).contains($0) }
    }

    static func isSubdivision(_ text: String) -> Bool {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        return parts.count == 2 && isCountry(String(parts[0])) && (1...3).contains(parts[1].utf8.count)
            && parts[1].utf8.allSatisfy { (0x41...0x5A).contains($0) || (0x30...0x39).contains($0) }
    }

    /// `SD-DN`, or `SD` for a whole country.
    public var description: String { admin1 ?? country }

    /// The partition of records in this region.
    public var partition: Partition {
        // A region is letters, digits and '-', always a valid partition.
        Partition(description) ?? .default
    }

    /// Whether `other` lies in this region (a country contains its subdivisions).
    public func contains(_ other: Region) -> Bool {
        admin1 == nil ? other.country == country : other == self
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.description < rhs.description }
}
