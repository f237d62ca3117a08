public import Foundation

/// Checking an audit log's hash chain, page by page: each entry must follow the one before it
/// (next sequence, its hash as previous hash) and carry the hash its fields call for.
public enum AuditChain {
    /// How far a chain has been checked: the last good entry's sequence and hash, and how many
    /// entries were checked. ``start`` is before the first entry.
    public struct Position: Sendable, Hashable {
        public var sequence: Int64
        public var hash: Data
        public var count: Int

        public init(sequence: Int64, hash: Data, count: Int) {
            self.sequence = sequence
            self.hash = hash
            self.count = count
        }

        /// Before the first entry.
        public static let start = Position(sequence: 0, hash: AuditEntry.genesisHash, count: 0)
    }

    /// Checks `entries`, which must come in sequence order and continue the chain at `position`;
    /// feed the next page with the position of an ``AuditChainVerdict/intact(_:)`` verdict.
    public static func verify(_ entries: some Sequence<AuditEntry>, after position: Position = .start) -> AuditChainVerdict {
        var position = position
        for entry in entries {
            if entry.sequence != position.sequence + 1 {
                return .broken(AuditChainBreak(sequence: entry.sequence, problem: .sequenceGap(expected: position.sequence + 1)))
            }
            if entry.previousHash != position.hash {
                return .broken(AuditChainBreak(sequence: entry.sequence, problem: .previousHashMismatch))
            }
            if entry.hash != entry.expectedHash {
                return .broken(AuditChainBreak(sequence: entry.sequence, problem: .hashMismatch))
            }
            position = Position(sequence: entry.sequence, hash: entry.hash, count: position.count + 1)
        }
        return .intact(position)
    }
}

/// What checking an audit chain found.
public enum AuditChainVerdict: Sendable, Hashable {
    /// Every entry checked chains correctly, up to this position.
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
        }
    }
}
