import Foundation

/// A replica's identity: 128 random bits, written as 32 lowercase hexadecimal digits.
///
/// Every replica (field device or hub) gets one when it is created. Ids order by their text,
/// which is also the order the canonical encoding uses.
public struct ReplicaID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The 32 lowercase hexadecimal digits.
    public let hex: String

    /// Parses 32 hexadecimal digits (either case); nil for anything else.
    public init?(_ text: some StringProtocol) {
        guard text.utf8.count == 32 else { return nil }
        var uppercase = false
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"): continue
            case UInt8(ascii: "A")...UInt8(ascii: "F"): uppercase = true
            default: return nil
            }
        }
        // Ids are read by the thousand in every page and context, nearly all lowercase already.
        hex = uppercase ? text.lowercased() : String(text)
    }

    /// A new random id from the system's secure generator.
    public static func random() -> ReplicaID {
        var generator = SystemRandomNumberGenerator()
        return random(using: &generator)
    }

    /// A new id drawn from `generator` (seeded generators make tests replayable).
    public static func random(using generator: inout some RandomNumberGenerator) -> ReplicaID {
        let bytes = (0..<16).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return ReplicaID(bytes: bytes)
    }

    /// The id whose raw bytes are `bytes` (16 of them).
    public init(bytes: [UInt8]) {
        precondition(bytes.count == 16, "a replica id has 16 bytes")
        hex = bytes.hexString
    }

    /// The 16 raw bytes.
    public var bytes: [UInt8] { [UInt8](hexString: hex) ?? [] }

    public var description: String { hex }

    /// The first eight digits, enough to tell replicas apart on a screen.
    public var short: String { String(hex.prefix(8)) }

    public static func < (lhs: ReplicaID, rhs: ReplicaID) -> Bool { lhs.hex < rhs.hex }
}

extension ReplicaID: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let id = ReplicaID(text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "A replica id is 32 hexadecimal digits.")
        }
        self = id
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(hex)
    }
}

extension Array where Element == UInt8 {
    /// Lowercase hexadecimal digits of the bytes.
    package var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(count * 2)
        for byte in self {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Bytes from hexadecimal digits; nil when the text is not an even run of hex digits.
    package init?(hexString: String) {
        let utf8 = Array(hexString.utf8)
        guard utf8.count.isMultiple(of: 2) else { return nil }
        func value(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: c - 0x30
            case 0x41...0x46: c - 0x41 + 10
            case 0x61...0x66: c - 0x61 + 10
            default: nil
            }
        }
        var bytes = [UInt8]()
        bytes.reserveCapacity(utf8.count / 2)
        var index = 0
        while index < utf8.count {
            guard let high = value(utf8[index]), let low = value(utf8[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        self = bytes
    }
}
