public import Foundation
import Crypto

/// One entry of a hub's append-only audit log: who did what to which subject, when, chained to
/// the entry before it by hash, so that changing, removing or reordering entries shows.
public struct AuditEntry: Sendable, Hashable, Codable {
    /// The entry's position in the log, from 1, without gaps.
    public var sequence: Int64
    /// When, in milliseconds since 1970 (the hub's clock).
    public var at: UInt64
    /// Who: `operator`, `hub`, or a device's replica id (hex).
    public var actor: String
    public var action: AuditAction
    /// What it was done to: a device name or replica id, a dot, or a document key.
    public var subject: String
    /// Further facts, such as a reason or a collection.
    public var detail: [String: String]
    /// The previous entry's ``hash``; 32 zero bytes for the first entry.
    public var previousHash: Data
    /// ``chainHash(previousHash:sequence:at:actor:action:subject:detail:)`` of this entry.
    public var hash: Data

    /// The hash of the entry before the first one: 32 zero bytes.
    public static let genesisHash = Data(count: 32)

    /// An entry chained to `previousHash`, its hash computed.
    public init(
        sequence: Int64, at: UInt64, actor: String, action: AuditAction, subject: String,
        detail: [String: String] = [:], previousHash: Data
    ) {
        self.init(
            sequence: sequence, at: at, actor: actor, action: action, subject: subject, detail: detail,
            previousHash: previousHash,
            hash: Self.chainHash(
                previousHash: previousHash, sequence: sequence, at: at, actor: actor, action: action, subject: subject,
                detail: detail))
    }

    /// An entry as stored, its hash as given (to be checked with ``AuditChain``).
    public init(
        sequence: Int64, at: UInt64, actor: String, action: AuditAction, subject: String,
        detail: [String: String], previousHash: Data, hash: Data
    ) {
        self.sequence = sequence
        self.at = at
        self.actor = actor
        self.action = action
        self.subject = subject
        self.detail = detail
        self.previousHash = previousHash
        self.hash = hash
    }

    /// The hash this entry's fields call for, whatever ``hash`` holds.
    public var expectedHash: Data {
        Self.chainHash(
            previousHash: previousHash, sequence: sequence, at: at, actor: actor, action: action, subject: subject,
            detail: detail)
    }

    /// SHA-256 of `previousHash` followed by the entry's ``canonicalEncoding(sequence:at:actor:action:subject:detail:)``.
    public static func chainHash(
        previousHash: Data, sequence: Int64, at: UInt64, actor: String, action: AuditAction, subject: String,
        detail: [String: String]
    ) -> Data {
        var hasher = SHA256()
        hasher.update(data: previousHash)
        hasher.update(
            data: canonicalEncoding(sequence: sequence, at: at, actor: actor, action: action, subject: subject, detail: detail))
        return Data(hasher.finalize())
    }

    /// The bytes an entry's hash covers, the same on every platform and in every version of this code.
    ///
    /// Layout (integers big-endian; strings as a 32-bit length then UTF-8): `"vigil.audit.1"`,
    /// sequence (i64), at (u64), actor, action, subject, the number of detail pairs (u32), then
    /// each key and value, keys in the order of their UTF-8 bytes.
    public static func canonicalEncoding(
        sequence: Int64, at: UInt64, actor: String, action: AuditAction, subject: String, detail: [String: String]
    ) -> Data {
        var out = Data()
        out.append(contentsOf: Array("vigil.audit.1".utf8))
        out.appendBigEndian(sequence)
        out.appendBigEndian(at)
        out.appendLongString(actor)
        out.appendLongString(action.rawValue)
        out.appendLongString(subject)
        out.appendBigEndian(UInt32(clamping: detail.count))
        let pairs = detail.map { (key: Array($0.key.utf8), value: $0.value) }
            .sorted { $0.key.lexicographicallyPrecedes($1.key) }
        for pair in pairs {
            out.appendBigEndian(UInt32(clamping: pair.key.count))
            out.append(contentsOf: pair.key)
            out.appendLongString(pair.value)
        }
        return out
    }
}

extension Data {
    mutating func appendLongString(_ text: String) {
        let utf8 = Array(text.utf8)
        appendBigEndian(UInt32(clamping: utf8.count))
        append(contentsOf: utf8.prefix(Int(UInt32.max)))
    }
}
