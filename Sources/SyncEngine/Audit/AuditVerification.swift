public import Foundation

/// What checking a whole audit log found, against a head kept elsewhere when one is given.
public struct AuditVerification: Sendable, Hashable {
    /// Where a head kept elsewhere stands in the log.
    public enum Head: Sendable, Hashable {
        /// No head was given.
        case notGiven
        /// The entry with that hash is in the log, at this sequence.
        case found(sequence: Int64)
        /// No entry of the log has that hash: the log was cut at or before it, or rewritten from
        /// before it.
        case missing
    }

    /// The chain's verdict (checked before the head: a broken chain says more).
    public var verdict: AuditChainVerdict
    public var head: Head

    public init(verdict: AuditChainVerdict, head: Head) {
        self.verdict = verdict
        self.head = head
    }
}

extension AuditChain {
    /// A head as an operator writes it: 64 hexadecimal digits (the hash `syncd audit head`
    /// prints); nil when it is not one.
    public static func parseHead(_ text: String) -> Data? {
        let digits = Array(text.trimmingCharacters(in: .whitespaces).lowercased().utf8)
        guard digits.count == 64 else { return nil }
        var bytes = Data(capacity: 32)
        for index in stride(from: 0, to: 64, by: 2) {
            guard let high = hexValue(digits[index]), let low = hexValue(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
        }
        return bytes
    }

    private static func hexValue(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): character - UInt8(ascii: "a") + 10
        default: nil
        }
    }
}
