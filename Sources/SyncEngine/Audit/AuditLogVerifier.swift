public import Foundation

/// Checking a whole audit log page by page, with no I/O: a store reads the rows after
/// ``nextSequence`` and hands them to ``take(_:)`` until it says the log is checked. Every backend
/// verifies its log with it (the SQLite hub's replica, the PostgreSQL hub's schema).
///
/// A page's rows come in sequence order; a row is nil when it cannot be read (a field is not in
/// the form the log writes), which breaks the chain there.
public struct AuditLogVerifier: Sendable {
    /// What to do next.
    public enum Step: Sendable, Hashable {
        /// Read the page of rows after this sequence and ``take(_:)`` it.
        case read(after: Int64)
        /// The log is checked.
        case finished(AuditVerification)
    }

    private let key: PublicDeviceKey
    private let head: Data?
    private var position = AuditChain.Position.start
    private var found: Int64?

    /// A check against `key` (the hub's public key) and, when given, a `head` kept elsewhere.
    public init(key: PublicDeviceKey, head: Data?) {
        self.key = key
        self.head = head
    }

    /// The sequence after which the next page is to be read.
    public var nextSequence: Int64 { position.sequence }

    /// Checks one page (`rows`, in sequence order, after ``nextSequence``); an empty page ends the log.
    public mutating func take(_ rows: [(sequence: Int64, entry: AuditEntry?)]) -> Step {
        guard !rows.isEmpty else { return .finished(AuditVerification(verdict: .intact(position), head: headFinding)) }
        var entries: [AuditEntry] = []
        entries.reserveCapacity(rows.count)
        var unreadable: Int64?
        for row in rows {
            guard let entry = row.entry else {
                unreadable = row.sequence
                break
            }
            entries.append(entry)
        }
        switch AuditChain.verify(entries, after: position, key: key) {
        case .broken(let broken):
            return .finished(AuditVerification(verdict: .broken(broken), head: headFinding))
        case .intact(let reached):
            if let head, found == nil { found = entries.first(where: { $0.hash == head })?.sequence }
            if let unreadable {
                return .finished(
                    AuditVerification(
                        verdict: .broken(AuditChainBreak(sequence: unreadable, problem: .unreadable)), head: headFinding))
            }
            position = reached
            return .read(after: position.sequence)
        }
    }

    /// Where the head kept elsewhere stands, from what the pages checked so far held.
    private var headFinding: AuditVerification.Head {
        guard head != nil else { return .notGiven }
        guard let found else { return .missing }
        return .found(sequence: found)
    }
}
