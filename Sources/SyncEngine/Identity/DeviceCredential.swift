public import Foundation
import Crypto

/// A device's bearer credential: 32 random bytes, base64url without padding, never beginning with
/// `-` (so that it can follow `--token` on a command line). The hub keeps only its SHA-256
/// (``hash``); the device keeps the text in its protected credential file.
public struct DeviceCredential: Sendable, Hashable {
    /// The text sent as `Authorization: Bearer <text>`; never logged or printed by the hub.
    public let text: String

    /// A new random credential. One drawn with a leading `-` (1 in 64) is drawn again: a command
    /// line parser reads `--token -Ab…` as two flags.
    public static func random() -> DeviceCredential {
        var generator = SystemRandomNumberGenerator()
        while true {
            let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
            let text = Data(bytes).base64URLEncoded
            if !text.hasPrefix("-") { return DeviceCredential(text: text) }
        }
    }

    /// Wraps a presented credential; nil when it is not 1 to 256 printable ASCII characters.
    public init?(_ text: some StringProtocol) {
        guard (1...256).contains(text.utf8.count), text.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return nil }
        self.text = String(text)
    }

    private init(text: String) { self.text = text }

    /// The SHA-256 of the text: what the hub stores and looks up.
    public var hash: Data { Self.sha256(text) }

    /// The SHA-256 of `text`'s UTF-8 bytes.
    public static func sha256(_ text: String) -> Data { Data(SHA256.hash(data: Data(text.utf8))) }

    /// Equal bytes, in a time that depends only on the lengths.
    public static func constantTimeEqual(_ lhs: Data, _ rhs: Data) -> Bool {
        var difference = UInt64(lhs.count ^ rhs.count)
        let left = [UInt8](lhs)
        let right = [UInt8](rhs)
        for index in 0..<max(left.count, right.count) {
            difference |= UInt64((index < left.count ? left[index] : 0) ^ (index < right.count ? right[index] : 0))
        }
        return difference == 0
    }
}

/// A one-time enrollment code an operator gives a device: 80 random bits as 16 characters of
/// Crockford base32 in groups of four (`7K2M-Q9XD-...`), easy to read out over a phone. The hub
/// keeps only its SHA-256 over the normalized form.
public enum EnrollmentCode {
    static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)

    /// A new random code, grouped for reading.
    public static func random() -> String {
        var generator = SystemRandomNumberGenerator()
        let characters = (0..<16).map { _ in Character(UnicodeScalar(alphabet[Int.random(in: 0..<32, using: &generator)])) }
        return stride(from: 0, to: 16, by: 4).map { String(characters[$0..<$0 + 4]) }.joined(separator: "-")
    }

    /// The code as compared: upper case, without dashes and spaces, with the letters people
    /// confuse mapped (`O` to 0, `I` and `L` to 1); nil when it is not a code at all.
    public static func normalized(_ text: String) -> String? {
        var result = ""
        for scalar in text.uppercased().unicodeScalars {
            switch scalar {
            case "-", " ": continue
            case "O": result.append("0")
            case "I", "L": result.append("1")
            default:
                guard scalar.isASCII, alphabet.contains(UInt8(scalar.value)) else { return nil }
                result.unicodeScalars.append(scalar)
            }
        }
        return result.count == 16 ? result : nil
    }

    /// The SHA-256 the hub keeps of a code (of its normalized form); nil when it is not a code.
    public static func hash(_ text: String) -> Data? {
        normalized(text).map { DeviceCredential.sha256($0) }
    }
}

extension Data {
    /// Base64url without padding (RFC 4648 §5).
    var base64URLEncoded: String {
        base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
