import Foundation
import SyncEngine
import Testing

@Suite("Audit chain")
struct AuditChainTests {
    /// A chain of `count` entries, each chained to the one before.
    static func chain(_ count: Int) -> [AuditEntry] {
        var entries: [AuditEntry] = []
        var previous = AuditEntry.genesisHash
        for index in 1...count {
            let entry = AuditEntry(
                sequence: Int64(index), at: 1_700_000_000_000 + UInt64(index), actor: index.isMultiple(of: 2) ? "operator" : "hub",
                action: index.isMultiple(of: 3) ? .revoked : .enrolled, subject: "device-\(index)",
                detail: ["replica": String(repeating: "\(index % 10)", count: 32), "n": "\(index)"], previousHash: previous)
            entries.append(entry)
            previous = entry.hash
        }
        return entries
    }

    static func hex(_ data: Data) -> String { data.map { String(format: "%02x", $0) }.joined() }

    @Test func anUntouchedChainVerifies() {
        let entries = Self.chain(10)
        guard case .intact(let position) = AuditChain.verify(entries) else {
            Issue.record("an untouched chain broke")
            return
        }
        #expect(position.count == 10)
        #expect(position.sequence == 10)
        #expect(position.hash == entries[9].hash)
        #expect(entries[0].previousHash == Data(count: 32))
    }

    @Test func anEmptyChainVerifies() {
        #expect(AuditChain.verify([AuditEntry]()) == .intact(.start))
    }

    @Test func verifyingPageByPageMatchesVerifyingAtOnce() {
        let entries = Self.chain(25)
        var position = AuditChain.Position.start
        for start in stride(from: 0, to: entries.count, by: 7) {
            guard case .intact(let reached) = AuditChain.verify(entries[start..<min(start + 7, entries.count)], after: position)
            else {
                Issue.record("a page broke at \(start)")
                return
            }
            position = reached
        }
        #expect(AuditChain.verify(entries) == .intact(position))
    }

    @Test func aChangedDetailIsFound() {
        var entries = Self.chain(6)
        entries[3].detail["n"] = "forty"
        #expect(AuditChain.verify(entries) == .broken(AuditChainBreak(sequence: 4, problem: .hashMismatch)))
    }

    @Test func aChangedEntryWithARecomputedHashBreaksTheNextLink() {
        var entries = Self.chain(6)
        entries[2].subject = "someone-else"
        entries[2].hash = entries[2].expectedHash
        #expect(AuditChain.verify(entries) == .broken(AuditChainBreak(sequence: 4, problem: .previousHashMismatch)))
    }

    @Test func aRemovedEntryIsFound() {
        var entries = Self.chain(6)
        entries.remove(at: 2)
        #expect(
            AuditChain.verify(entries) == .broken(AuditChainBreak(sequence: 4, problem: .sequenceGap(expected: 3))))
    }

    @Test func aRemovedAndRenumberedEntryIsFound() {
        var entries = Self.chain(6)
        entries.remove(at: 2)
        for index in 2..<entries.count {
            entries[index].sequence -= 1
            entries[index].hash = entries[index].expectedHash
        }
        #expect(AuditChain.verify(entries) == .broken(AuditChainBreak(sequence: 3, problem: .previousHashMismatch)))
    }

    @Test func aReorderedPairIsFound() {
        var entries = Self.chain(6)
        entries.swapAt(1, 2)
        #expect(
            AuditChain.verify(entries) == .broken(AuditChainBreak(sequence: 3, problem: .sequenceGap(expected: 2))))
        // Swapping their sequence numbers too still breaks the chain.
        (entries[1].sequence, entries[2].sequence) = (2, 3)
        #expect(AuditChain.verify(entries) == .broken(AuditChainBreak(sequence: 2, problem: .previousHashMismatch)))
    }

    @Test func detailOrderDoesNotChangeTheHash() {
        let a = AuditEntry.chainHash(
            previousHash: AuditEntry.genesisHash, sequence: 1, at: 5, actor: "hub", action: .resolved, subject: "notes/a",
            detail: ["a": "1", "b": "2", "c": "3"])
        var detail: [String: String] = [:]
        for key in ["c", "a", "b"] { detail[key] = ["a": "1", "b": "2", "c": "3"][key] }
        let b = AuditEntry.chainHash(
            previousHash: AuditEntry.genesisHash, sequence: 1, at: 5, actor: "hub", action: .resolved, subject: "notes/a",
            detail: detail)
        #expect(a == b)
    }

    @Test func fieldBoundariesAreUnambiguous() {
        let a = AuditEntry.chainHash(
            previousHash: AuditEntry.genesisHash, sequence: 1, at: 5, actor: "ab", action: .resolved, subject: "c", detail: [:])
        let b = AuditEntry.chainHash(
            previousHash: AuditEntry.genesisHash, sequence: 1, at: 5, actor: "a", action: .resolved, subject: "bc", detail: [:])
        #expect(a != b)
    }

    /// The hash of one fixed entry, computed independently (Python's hashlib over the documented
    /// layout): changing the canonical encoding breaks every hub's existing log.
    @Test func goldenHash() {
        let entry = AuditEntry(
            sequence: 1, at: 1_700_000_000_000, actor: "operator", action: .revoked, subject: "amina-laptop",
            detail: ["replica": "00112233445566778899aabbccddeeff", "b": "2", "é": "x"], previousHash: AuditEntry.genesisHash)
        #expect(Self.hex(entry.hash) == "bd169fa59aafb880dfc14ee03056f53f3258ba5019d843211cfd4646742cf534")
        #expect(entry.hash.count == 32)
    }

    @Test func actionsHaveTheirDocumentedNames() {
        #expect(AuditAction.codeIssued.rawValue == "device.code-issued")
        #expect(AuditAction.enrolled.rawValue == "device.enrolled")
        #expect(AuditAction.scopesChanged.rawValue == "device.scopes-changed")
        #expect(AuditAction.revoked.rawValue == "device.revoked")
        #expect(AuditAction.incarnated.rawValue == "device.incarnated")
        #expect(AuditAction.quarantined.rawValue == "version.quarantined")
        #expect(AuditAction.resolved.rawValue == "document.resolved")
    }

    @Test func anEntryRoundTripsThroughJSON() throws {
        let entry = Self.chain(1)[0]
        let decoded = try JSONDecoder().decode(AuditEntry.self, from: JSONEncoder().encode(entry))
        #expect(decoded == entry)
    }
}
