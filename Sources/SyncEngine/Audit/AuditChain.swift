public import Foundation

/// Checking an audit log, page by page: each entry must follow the one before it (next
/// sequence, its hash as previous hash), carry the hash its fields call for, and, from the
/// first signed entry on, be signed with the hub's key.
///
/// Entries in the unsigned format (written before hubs signed their log) may only open the log:
/// one after a signed entry was written without the key.
public enum AuditChain {
    /// How far a chain has been checked: the last good entry's sequence and hash, how many
    /// entries were checked, and the last unsigned one. ``start`` is before the first entry.
    public struct Position: Sendable, Hashable {
        public var sequence: Int64
        public var hash: Data
        public var count: Int
        /// The sequence of the last entry in the unsigned format; 0 when there is none. Every
        /// entry after it is signed.
        public var lastUnsigned: Int64

        public init(sequence: Int64, hash: Data, count: Int, lastUnsigned: Int64 = 0) {
            self.sequence = sequence
            self.hash = hash
            self.count = count
            self.lastUnsigned = lastUnsigned
        }

        /// Before the first entry.
        public static let start = Position(sequence: 0, hash: AuditEntry.genesisHash, count: 0)

        /// Whether a signed entry has been checked (so no unsigned one may follow).
        var signingBegan: Bool { count > 0 && sequence > lastUnsigned }
    }

    /// Checks `entries`, which must come in sequence order and continue the chain at `position`,
    /// signed entries against `key` (the hub's public key, from its key file); feed the next page
    /// with the position of an ``AuditChainVerdict/intact(_:)`` verdict.
    public static func verify(
        _ entries: some Sequence<AuditEntry>, after position: Position = .start, key: PublicDeviceKey
    ) -> AuditChainVerdict {
        var position = position
        for entry in entries {
            if let problem = problem(of: entry, after: position, key: key) {
                return .broken(AuditChainBreak(sequence: entry.sequence, problem: problem))
            }
            position.sequence = entry.sequence
            position.hash = entry.hash
            position.count += 1
            if entry.format == .unsigned { position.lastUnsigned = entry.sequence }
        }
        return .intact(position)
    }

    /// What is wrong with `entry` as the one after `position`; nil when nothing is.
    static func problem(of entry: AuditEntry, after position: Position, key: PublicDeviceKey) -> AuditChainBreak.Problem? {
        if entry.sequence != position.sequence + 1 { return .sequenceGap(expected: position.sequence + 1) }
        if entry.previousHash != position.hash { return .previousHashMismatch }
        if entry.hash != entry.expectedHash { return .hashMismatch }
        switch entry.format {
        case .unsigned:
            if position.signingBegan { return .unsignedAfterSigned }
        case .signed:
            if entry.signature == nil { return .missingSignature }
            if !entry.hasValidSignature(by: key) { return .badSignature }
        }
        return nil
    }
}

/// What checking an audit chain found.
public enum AuditChainVerdict: Sendable, Hashable {
    /// Every entry checked chains correctly (and is signed where it must be), up to this position.
    case intact(AuditChain.Position)
    /// The first entry that does not.
    case broken(AuditChainBreak)
}

/// The first entry of an audit log that breaks its chain, and how.
public struct AuditChainBreak: Sendable, Hashable, CustomStringConvertible {
    /// How an entry breaks the chain.
    public enum Problem: Sendable, Hashable {
        /// Its fields do not hash to its stored hash: it was changed.
        case hashMismatch
        /// Its previous hash is not the hash of the entry before it: an entry was removed,
        /// inserted or reordered, or the one before it was changed.
        case previousHashMismatch
        /// Its sequence does not follow the one before it (which was `expected - 1`).
        case sequenceGap(expected: Int64)
        /// It cannot be read (a field is not in the form the log writes).
        case unreadable
        /// It is in the signed format but carries no signature: its signature was removed.
        case missingSignature
        /// Its signature is not the hub key's over its hash: it was written or rewritten without
        /// the hub's key (or the key file is not this hub's).
        case badSignature
        /// It is in the unsigned format but follows a signed entry: it was written without the
        /// hub's key after the hub began signing.
        case unsignedAfterSigned
    }

    /// The entry's sequence number.
    public var sequence: Int64
    public var problem: Problem

    public init(sequence: Int64, problem: Problem) {
        self.sequence = sequence
        self.problem = problem
    }

    /// One sentence for people.
    public var description: String {
        switch problem {
        case .hashMismatch:
            "Audit entry #\(sequence) does not match its hash: it was changed after it was written."
        case .previousHashMismatch:
            "Audit entry #\(sequence) does not chain to the entry before it: an entry was removed, inserted or reordered, or the one before it was changed."
        case .sequenceGap(let expected):
            "Audit entry #\(sequence) comes where #\(expected) should: entries are missing or out of order."
        case .unreadable:
            "Audit entry #\(sequence) cannot be read: it was changed after it was written."
        case .missingSignature:
            "Audit entry #\(sequence) has lost its signature: it was changed after it was written."
        case .badSignature:
            "Audit entry #\(sequence) is not signed by this hub's key: it was written or rewritten without the key."
        case .unsignedAfterSigned:
            "Audit entry #\(sequence) is unsigned but follows signed entries: it was written without the hub's key."
        }
    }
}
