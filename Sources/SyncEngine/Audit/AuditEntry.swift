public import Foundation
import Crypto

/// One entry of a hub's append-only audit log: who did what to which subject, when, chained to
/// the entry before it by hash, and signed with the hub's key, so that changing, removing or
/// reordering entries shows, and so does recomputing the hashes without the key.
public struct AuditEntry: Sendable, Hashable, Codable {
    /// How an entry is encoded and protected.
    public enum Format: Int, Sendable, Hashable, Codable {
        /// Written before hubs signed their log: chained by hash only (`vigil.audit.1`).
        case unsigned = 1
        /// Chained by hash (`vigil.audit.2`) and signed with the hub's key: the format tells
        /// apart an entry that must carry a signature, so removing one breaks the hash.
        case signed = 2
    }

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
    /// ``chainHash(format:previousHash:sequence:at:actor:action:subject:detail:)`` of this entry.
    public var hash: Data
    /// Which encoding ``hash`` covers; ``Format/signed`` for every entry written now.
    public var format: Format
    /// The hub key's Ed25519 signature over ``signedBytes(hash:)`` (64 bytes); nil for an
    /// ``Format/unsigned`` entry, and for a signed one until its transaction signs it.
    public var signature: Data?

    /// The hash of the entry before the first one: 32 zero bytes.
    public static let genesisHash = Data(count: 32)

    /// An entry chained to `previousHash`, its hash computed, not yet signed.
    public init(
        sequence: Int64, at: UInt64, actor: String, action: AuditAction, subject: String,
        detail: [String: String] = [:], previousHash: Data, format: Format = .signed
    ) {
        self.init(
            sequence: sequence, at: at, actor: actor, action: action, subject: subject, detail: detail,
            previousHash: previousHash,
            hash: Self.chainHash(
                format: format, previousHash: previousHash, sequence: sequence, at: at, actor: actor, action: action,
                subject: subject, detail: detail),
            format: format, signature: nil)
    }

    /// An entry as stored, its hash and signature as given (to be checked with ``AuditChain``).
    public init(
        sequence: Int64, at: UInt64, actor: String, action: AuditAction, subject: String,
        detail: [String: String], previousHash: Data, hash: Data, format: Format, signature: Data?
    ) {
        self.sequence = sequence
        self.at = at
        self.actor = actor
        self.action = action
        self.subject = subject
        self.detail = detail
        self.previousHash = previousHash
        self.hash = hash
        self.format = format
        self.signature = signature
    }

    /// The hash this entry's fields call for, whatever ``hash`` holds.
    public var expectedHash: Data {
        Self.chainHash(
            format: format, previousHash: previousHash, sequence: sequence, at: at, actor: actor, action: action,
            subject: subject, detail: detail)
    }

    /// This entry signed with `key` (the hub's).
    public func signed(with key: DeviceKey) throws -> AuditEntry {
        var entry = self
        entry.signature = try key.signature(for: Self.signedBytes(hash: hash))
        return entry
    }

    /// Whether ``signature`` is `key`'s signature over this entry's ``hash`` (the stored one:
    /// ``AuditChain`` checks that it is also the expected one).
    public func hasValidSignature(by key: PublicDeviceKey) -> Bool {
        guard let signature else { return false }
        return key.isValidSignature(signature, for: Self.signedBytes(hash: hash))
    }

    /// The bytes a signed entry's signature covers: `"vigil.audit.signature.1"` then its 32-byte
    /// chain hash (which covers the previous hash and every field). The prefix keeps an audit
    /// signature from ever being taken for the same key's signature over anything else.
    public static func signedBytes(hash: Data) -> Data {
        var out = Data("vigil.audit.signature.1".utf8)
        out.append(hash)
        return out
    }

    /// SHA-256 of `previousHash` followed by the entry's
    /// ``canonicalEncoding(format:sequence:at:actor:action:subject:detail:)``.
    public static func chainHash(
        format: Format = .signed, previousHash: Data, sequence: Int64, at: UInt64, actor: String, action: AuditAction,
        subject: String, detail: [String: String]
    ) -> Data {
        var hasher = SHA256()
        hasher.update(data: previousHash)
        hasher.update(
            data: canonicalEncoding(
                format: format, sequence: sequence, at: at, actor: actor, action: action, subject: subject, detail: detail))
        return Data(hasher.finalize())
    }

    /// The bytes an entry's hash covers, the same on every platform and in every version of this code.
    ///
    /// Layout (integers big-endian; strings as a 32-bit length then UTF-8): `"vigil.audit.1"`
    /// (unsigned format) or `"vigil.audit.2"` (signed format), sequence (i64), at (u64), actor,
    /// action, subject, the number of detail pairs (u32), then each key and value, keys in the
    /// order of their UTF-8 bytes.
    public static func canonicalEncoding(
        format: Format = .signed, sequence: Int64, at: UInt64, actor: String, action: AuditAction, subject: String,
        detail: [String: String]
    ) -> Data {
        var out = Data()
        out.append(contentsOf: Array("vigil.audit.\(format.rawValue)".utf8))
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
