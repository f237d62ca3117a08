import Foundation

/// A document's id, unique within its collection.
///
/// Ids made here are UUIDv7: globally unique without coordination and ordered by creation time.
/// Ids given by people are accepted when they are 1 to 128 characters of letters, digits,
/// `.`, `_`, `-` and `:`, and not `.` or `..` (so they are safe in paths and URLs).
public struct DocumentID: Hashable, Comparable, Sendable, CustomStringConvertible, Codable {
    public let rawValue: String

    /// Checks a given id; nil when it has characters outside the allowed set.
    public init?(_ text: String) {
        guard Self.isValid(text) else { return nil }
        rawValue = text
    }

    private init(unchecked text: String) { rawValue = text }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let id = DocumentID(text) else {
            throw DecodingError.dataCorruptedError(
                in: container,
                debugDescription: "A document id is 1 to 128 letters, digits, '.', '_', '-' or ':'.")
        }
        self = id
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public var description: String { rawValue }

    public static func < (lhs: DocumentID, rhs: DocumentID) -> Bool { lhs.rawValue < rhs.rawValue }

    static func isValid(_ text: String) -> Bool {
        let utf8 = text.utf8
        guard (1...128).contains(utf8.count), text != ".", text != ".." else { return false }
        return utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "-"), UInt8(ascii: ":"):
                true
            default: false
            }
        }
    }

    /// A new UUIDv7 id: 48 bits of Unix milliseconds, then random bits (RFC 9562).
    public static func generate(
        millisecondsSince1970: UInt64, using generator: inout some RandomNumberGenerator
    ) -> DocumentID {
        let random = (generator.next(), generator.next())  // two draws, not one per byte: a bulk import makes many
        var bytes = (0..<16).map { index in UInt8(truncatingIfNeeded: (index < 8 ? random.0 : random.1) >> (8 * (index % 8))) }
        for index in 0..<6 {
            bytes[index] = UInt8(truncatingIfNeeded: millisecondsSince1970 >> (8 * (5 - index)))
        }
        bytes[6] = 0x70 | (bytes[6] & 0x0f)  // version 7
        bytes[8] = 0x80 | (bytes[8] & 0x3f)  // RFC 9562 variant
        let hex = bytes.hexString
        let parts = [hex.prefix(8), hex.dropFirst(8).prefix(4), hex.dropFirst(12).prefix(4),
                     hex.dropFirst(16).prefix(4), hex.dropFirst(20)]
        return DocumentID(unchecked: parts.joined(separator: "-"))
    }

    /// A new UUIDv7 id for now, from the system's secure generator.
    public static func generate() -> DocumentID {
        var generator = SystemRandomNumberGenerator()
        let millis = UInt64(max(0, Date().timeIntervalSince1970 * 1000))
        return generate(millisecondsSince1970: millis, using: &generator)
    }
}
