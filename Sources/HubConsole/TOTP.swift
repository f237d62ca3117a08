import Crypto
public import Foundation

/// Time-based one-time passwords (RFC 6238 over RFC 4226's HOTP): HMAC-SHA1 of the number of
/// 30-second steps since 1970, truncated to 6 digits, as authenticator apps compute them.
public enum TOTP {
    /// The length of a step, in seconds.
    static let period: UInt64 = 30
    /// Steps either side of the current one whose code is accepted (clocks drift; typing takes time).
    static let window: UInt64 = 1
    /// The size of a new secret: 160 bits, as RFC 4226 recommends for HMAC-SHA1.
    static let secretBytes = 20

    /// A new random secret.
    public static func randomSecret() -> Data { ConsoleTokens.randomBytes(secretBytes) }

    /// The step of the time `milliseconds` since 1970.
    static func step(at milliseconds: UInt64) -> UInt64 { milliseconds / 1_000 / period }

    /// The code of `step` under `secret`, `digits` long with leading zeros (RFC 4226 section 5.3).
    static func code(secret: Data, step: UInt64, digits: Int = 6) -> String {
        let counter = withUnsafeBytes(of: step.bigEndian) { Data($0) }
        let mac = Array(HMAC<Insecure.SHA1>.authenticationCode(for: counter, using: SymmetricKey(data: secret)))
        let offset = Int(mac[mac.count - 1] & 0x0F)
        let binary = (UInt32(mac[offset] & 0x7F) << 24) | (UInt32(mac[offset + 1]) << 16) | (UInt32(mac[offset + 2]) << 8)
            | UInt32(mac[offset + 3])
        var modulus: UInt32 = 1
        for _ in 0..<min(max(digits, 1), 9) { modulus *= 10 }
        let text = String(binary % modulus)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }

    /// The step whose code `code` is, among the current step at `milliseconds` and the
    /// ``window`` steps either side; nil when it is none of them. Spaces in `code` are ignored.
    static func matchingStep(of code: String, secret: Data, at milliseconds: UInt64) -> UInt64? {
        let typed = code.filter { $0 != " " }
        guard typed.count == 6, typed.allSatisfy(\.isASCII), typed.allSatisfy(\.isNumber) else { return nil }
        let now = step(at: milliseconds)
        var found: UInt64?
        for candidate in now - min(now, window)...now + window
        where ConsoleTokens.constantTimeEquals(Self.code(secret: secret, step: candidate), typed) {
            found = candidate
        }
        return found
    }

    /// The `otpauth://` URI authenticator apps take (typed in or scanned), for `account` at `issuer`.
    public static func uri(secret: Data, account: String, issuer: String) -> String {
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
        let label = "\(issuer):\(account)".addingPercentEncoding(withAllowedCharacters: allowed.union([":"])) ?? account
        let issuerParameter = issuer.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
        return "otpauth://totp/\(label)?secret=\(base32(secret))&issuer=\(issuerParameter)&algorithm=SHA1&digits=6&period=\(period)"
    }

    /// `data` in RFC 4648 base32 without padding (the alphabet authenticator apps take).
    public static func base32(_ data: Data) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        var text = ""
        var buffer: UInt32 = 0
        var bits = 0
        for byte in data {
            buffer = (buffer << 8) | UInt32(byte)
            bits += 8
            while bits >= 5 {
                text.append(alphabet[Int((buffer >> UInt32(bits - 5)) & 31)])
                bits -= 5
            }
        }
        if bits > 0 { text.append(alphabet[Int((buffer << UInt32(5 - bits)) & 31)]) }
        return text
    }
}
