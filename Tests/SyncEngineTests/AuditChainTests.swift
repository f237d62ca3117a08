import Foundation
import SyncEngine
import Testing

@Suite("Audit chain")
struct AuditChainTests {
    /// The hub key the chains of these tests are signed with (fixed, for the golden signature).
    static let hubKey = (try? DeviceKey(rawRepresentation: Data((0..<32).map { UInt8($0) }))) ?? DeviceKey()
    static var key: PublicDeviceKey { hubKey.publicKey }

    /// A chain of `count` entries, each chained to the one before; the first `unsigned` in the
    /// unsigned format (written before hubs signed), the others signed with ``hubKey``.
    static func chain(_ count: Int, unsigned: Int = 0) -> [AuditEntry] {
        var entries: [AuditEntry] = []
        var previous = AuditEntry.genesisHash
        for index in 1...count {
            var entry = AuditEntry(
                sequence: Int64(index), at: 1_700_000_000_000 + UInt64(index), actor: index.isMultiple(of: 2) ? "operator" : "hub",
                action: index.isMultiple(of: 3) ? .revoked : .enrolled, subject: "device-\(index)",
                detail: ["replica": String(repeating: "\(index % 10)", count: 32), "n": "\(index)"], previousHash: previous,
                format: index <= unsigned ? .unsigned : .signed)
            if entry.format == .signed, let signed = try? entry.signed(with: hubKey) { entry = signed }
            entries.append(entry)
            previous = entry.hash
        }
        return entries
    }

    /// Sets each entry's hash to what its fields call for and chains the next to it, from `start`
    /// on: what someone who can write the database but lacks the hub's key can do.
    static func rechain(_ entries: inout [AuditEntry], from start: Int) {
        for index in start..<entries.count {
            if index > 0 { entries[index].previousHash = entries[index - 1].hash }
            entries[index].hash = entries[index].expectedHash
        }
    }

    static func hex(_ data: Data) -> String { data.map { String(format: "%02x", $0) }.joined() }

    @Test func anUntouchedChainVerifies() {
        let entries = Self.chain(10)
        guard case .intact(let position) = AuditChain.verify(entries, key: Self.key) else {
            Issue.record("an untouched chain broke")
            return
        }
        #expect(position.count == 10)
        #expect(position.sequence == 10)
        #expect(position.hash == entries[9].hash)
        #expect(entries[0].previousHash == Data(count: 32))
    }

    @Test func anEmptyChainVerifies() {
        #expect(AuditChain.verify([AuditEntry](), key: Self.key) == .intact(.start))
    }

    @Test func verifyingPageByPageMatchesVerifyingAtOnce() {
        let entries = Self.chain(25)
        var position = AuditChain.Position.start
        for start in stride(from: 0, to: entries.count, by: 7) {
            guard case .intact(let reached) = AuditChain.verify(entries[start..<min(start + 7, entries.count)], after: position, key: Self.key)
            else {
                Issue.record("a page broke at \(start)")
                return
            }
            position = reached
        }
        #expect(AuditChain.verify(entries, key: Self.key) == .intact(position))
    }

    @Test func aChangedDetailIsFound() {
        var entries = Self.chain(6)
        entries[3].detail["n"] = "forty"
        #expect(AuditChain.verify(entries, key: Self.key) == .broken(AuditChainBreak(sequence: 4, problem: .hashMismatch)))
    }

    @Test func aChangedEntryWithARecomputedHashBreaksTheNextLink() {
        var entries = Self.chain(6, unsigned: 6)
        entries[2].subject = "someone-else"
        entries[2].hash = entries[2].expectedHash
        #expect(AuditChain.verify(entries, key: Self.key) == .broken(AuditChainBreak(sequence: 4, problem: .previousHashMismatch)))
    }

    /// The attack of issue 10 §5: someone who can rewrite the database changes an entry and
    /// recomputes every hash after it. Without signatures the chain verified; the hub's key,
    /// which is not in the database, now tells.
    @Test func aChangedEntryWithEveryHashRecomputedIsFoundBySignature() {
        var entries = Self.chain(6)
        entries[2].subject = "someone-else"
        Self.rechain(&entries, from: 2)
        #expect(AuditChain.verify(entries, key: Self.key) == .broken(AuditChainBreak(sequence: 3, problem: .badSignature)))
        // Signed with another key (the attacker's own): still not the hub's.
        let forged = entries.map { (try? $0.signed(with: DeviceKey())) ?? $0 }
        #expect(AuditChain.verify(forged, key: Self.key) == .broken(AuditChainBreak(sequence: 1, problem: .badSignature)))
    }

    @Test func aRemovedSignatureIsFound() {
        var entries = Self.chain(4)
        entries[1].signature = nil
        #expect(AuditChain.verify(entries, key: Self.key) == .broken(AuditChainBreak(sequence: 2, problem: .missingSignature)))
    }

    /// Rewriting entries into the unsigned format to shed their signatures: an unsigned entry
    /// after a signed one is refused (and the rewrite changed every hash from there, which a head
    /// kept elsewhere shows).
    @Test func anUnsignedEntryAfterASignedOneIsFound() {
        var entries = Self.chain(5, unsigned: 2)
        guard case .intact(let position) = AuditChain.verify(entries, key: Self.key) else {
            Issue.record("a chain with an unsigned beginning broke")
            return
        }
        #expect(position.lastUnsigned == 2)
        #expect(position.count == 5)
        for index in 3..<5 {
            entries[index].format = .unsigned
            entries[index].signature = nil
        }
        Self.rechain(&entries, from: 3)
        #expect(
            AuditChain.verify(entries, key: Self.key) == .broken(AuditChainBreak(sequence: 4, problem: .unsignedAfterSigned)))
    }

    @Test func theUnsignedBeginningIsCarriedFromPageToPage() {
        let entries = Self.chain(10, unsigned: 4)
        guard case .intact(let first) = AuditChain.verify(entries[0..<3], key: Self.key),
            case .intact(let second) = AuditChain.verify(entries[3..<10], after: first, key: Self.key)
        else {
            Issue.record("a page broke")
            return
        }
        #expect(first.lastUnsigned == 3)
        #expect(second.lastUnsigned == 4)
        var rewritten = entries
        rewritten[6].format = .unsigned
        Self.rechain(&rewritten, from: 6)
        guard case .intact(let reached) = AuditChain.verify(rewritten[0..<6], key: Self.key) else {
            Issue.record("the first page broke")
            return
        }
        #expect(
            AuditChain.verify(rewritten[6...], after: reached, key: Self.key)
                == .broken(AuditChainBreak(sequence: 7, problem: .unsignedAfterSigned)))
    }

    /// The signed bytes and the signature of one fixed entry under a fixed key, computed
    /// independently (Python's hashlib and the `cryptography` package's Ed25519 over the
    /// documented layout): changing what is signed breaks every hub's log.
    @Test func goldenSignature() throws {
        let entry = try AuditEntry(
            sequence: 1, at: 1_700_000_000_000, actor: "operator", action: .revoked, subject: "amina-laptop",
            detail: ["replica": "00112233445566778899aabbccddeeff", "b": "2", "é": "x"], previousHash: AuditEntry.genesisHash
        ).signed(with: Self.hubKey)
        #expect(Self.hex(Self.key.rawRepresentation) == "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8")
        #expect(Self.hex(entry.hash) == "8c2875e2c087284b30b0a072806c0d720783f8dfc4cdef05a3a85eec51e6b8a3")
        #expect(
            Self.hex(AuditEntry.signedBytes(hash: entry.hash))
                == "766967696c2e61756469742e7369676e61747572652e31" + "8c2875e2c087284b30b0a072806c0d720783f8dfc4cdef05a3a85eec51e6b8a3")
        #expect(
            Self.hex(entry.signature ?? Data())
                == "59354833a24815ea296e74eea3336d5268383d47cae9d7cc0d58b800ca8f9fe1445f294e09aa381f51211732ecde285c870888f78b77ac33df9d1d4e00051807")
        #expect(entry.hasValidSignature(by: Self.key))
    }

    @Test func headsParseAsSixtyFourHexDigits() {
        let hash = Self.chain(1)[0].hash
        #expect(AuditChain.parseHead(Self.hex(hash)) == hash)
        #expect(AuditChain.parseHead(" " + Self.hex(hash).uppercased()) == hash)
        #expect(AuditChain.parseHead(String(Self.hex(hash).dropLast())) == nil)
        #expect(AuditChain.parseHead(String(repeating: "g", count: 64)) == nil)
        #expect(AuditChain.parseHead("") == nil)
    }

    @Test func aRemovedEntryIsFound() {
        var entries = Self.chain(6)
        entries.remove(at: 2)
        #expect(
            AuditChain.verify(entries, key: Self.key) == .broken(AuditChainBreak(sequence: 4, problem: .sequenceGap(expected: 3))))
    }

    @Test func aRemovedAndRenumberedEntryIsFound() {
        var entries = Self.chain(6, unsigned: 6)
        entries.remove(at: 2)
        for index in 2..<entries.count {
            entries[index].sequence -= 1
            entries[index].hash = entries[index].expectedHash
        }
        #expect(AuditChain.verify(entries, key: Self.key) == .broken(AuditChainBreak(sequence: 3, problem: .previousHashMismatch)))
    }

    @Test func aReorderedPairIsFound() {
        var entries = Self.chain(6)
        entries.swapAt(1, 2)
        #expect(
            AuditChain.verify(entries, key: Self.key) == .broken(AuditChainBreak(sequence: 3, problem: .sequenceGap(expected: 2))))
        // Swapping their sequence numbers too still breaks the chain.
        (entries[1].sequence, entries[2].sequence) = (2, 3)
        #expect(AuditChain.verify(entries, key: Self.key) == .broken(AuditChainBreak(sequence: 2, problem: .previousHashMismatch)))
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

    /// The hash of one fixed entry in the unsigned format, computed independently (Python's hashlib over the documented
    /// layout): changing the canonical encoding breaks every hub's existing log.
    @Test func goldenHash() {
        let entry = AuditEntry(
            sequence: 1, at: 1_700_000_000_000, actor: "operator", action: .revoked, subject: "amina-laptop",
            detail: ["replica": "00112233445566778899aabbccddeeff", "b": "2", "é": "x"], previousHash: AuditEntry.genesisHash,
            format: .unsigned)
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
        #expect(AuditAction.codeCancelled.rawValue == "device.code-cancelled")
        #expect(AuditAction.reportsIgnored.rawValue == "version.reports-ignored")
        #expect(AuditAction.limitReached.rawValue == "audit.limit-reached")
        #expect(AuditAction.suppressed.rawValue == "audit.suppressed")
    }

    @Test func anEntryRoundTripsThroughJSON() throws {
        let entry = Self.chain(1)[0]
        let decoded = try JSONDecoder().decode(AuditEntry.self, from: JSONEncoder().encode(entry))
        #expect(decoded == entry)
    }
}
