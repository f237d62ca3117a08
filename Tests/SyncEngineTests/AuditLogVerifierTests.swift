import Foundation
import SyncEngine
import Testing

/// The page-by-page check every backend runs its audit log through, driven here with no store.
@Suite("Audit log verifier")
struct AuditLogVerifierTests {
    typealias Chain = AuditChainTests

    /// Feeds `entries` (nil: an unreadable row) to a verifier in pages of `size`, as a store reads
    /// them; returns the verification and the sequences each page was read after.
    static func verify(_ entries: [AuditEntry?], sequences: [Int64]? = nil, pageSize size: Int, head: Data? = nil)
        -> (AuditVerification, reads: [Int64])
    {
        let rows = zip(sequences ?? entries.indices.map { Int64($0 + 1) }, entries).map { (sequence: $0, entry: $1) }
        var verifier = AuditLogVerifier(key: Chain.key, head: head)
        var reads: [Int64] = []
        while true {
            let after = verifier.nextSequence
            reads.append(after)
            let page = Array(rows.filter { $0.sequence > after }.prefix(size))
            if case .finished(let verification) = verifier.take(page) { return (verification, reads) }
        }
    }

    @Test func aLogOfSeveralPagesVerifiesAndFindsAHeadOnALaterPage() {
        let entries = Chain.chain(7)
        let (verification, reads) = Self.verify(entries, pageSize: 3, head: entries[4].hash)
        #expect(reads == [0, 3, 6, 7])
        guard case .intact(let position) = verification.verdict else {
            Issue.record("\(verification)")
            return
        }
        #expect(position.count == 7 && position.sequence == 7 && position.hash == entries[6].hash)
        #expect(verification.head == .found(sequence: 5))
        #expect(Self.verify([], pageSize: 3).0 == AuditVerification(verdict: .intact(.start), head: .notGiven))
        #expect(Self.verify(entries, pageSize: 3, head: Data(count: 32)).0.head == .missing)
    }

    @Test func theFirstBadOrUnreadableEntryEndsTheCheck() {
        var entries: [AuditEntry?] = Chain.chain(6)
        entries[4]?.subject = "someone else"
        let changed = Self.verify(entries, pageSize: 2)
        #expect(changed.0.verdict == .broken(AuditChainBreak(sequence: 5, problem: .hashMismatch)))
        #expect(changed.reads == [0, 2, 4])
        entries = Chain.chain(6)
        entries[3] = nil
        // The readable entries before it on its page are checked first, and a head among them found.
        let unreadable = Self.verify(entries, pageSize: 3, head: entries[2]?.hash)
        #expect(unreadable.0 == AuditVerification(verdict: .broken(AuditChainBreak(sequence: 4, problem: .unreadable)), head: .found(sequence: 3)))
    }
}
