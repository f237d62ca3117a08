import Foundation
import HubStore
import HubStoreSQLite
import ReplicaStore
import SyncEngine
import Testing

/// The audit log's contract, written once over `any HubAuditLog` (with the registry and the
/// administration that write to it), run on every backend in ``RegistryBackend/enabled``: the
/// SQLite hub's log and the PostgreSQL hub's must read, chain, verify and limit alike.
@Suite(.serialized)
struct AuditLogConformanceTests {
    @Test(arguments: RegistryBackend.enabled)
    func appendedEntriesChainListAndVerify(_ backend: RegistryBackend) async throws {
        try await AuditLogUnderTest.with(backend) { hub in
            #expect(try await hub.log.newest() == nil)
            let empty = try await hub.log.verify(head: nil)
            #expect(empty.verdict == .intact(.start))
            let first = try await hub.log.append([
                AuditEvent(actor: "hub", action: .authenticationFailed, subject: "192.0.2.7", detail: ["count": "3"]),
                AuditEvent(actor: "operator", action: .codeIssued, subject: "amina-laptop"),
            ])
            // Through the other hub process: the same chain, continued.
            let second = try await hub.otherLog.append([
                AuditEvent(actor: "hub", action: .enrollmentRefused, subject: "192.0.2.8", detail: ["reason.unknown-code": "1"])
            ])
            #expect((first + second).map(\.sequence) == [1, 2, 3])
            let entries = try await hub.allEntries()
            #expect(entries == first + second)
            #expect(entries.map(\.action) == [.authenticationFailed, .codeIssued, .enrollmentRefused])
            #expect(entries[0].detail == ["count": "3"])
            #expect(entries[0].previousHash == AuditEntry.genesisHash)
            #expect(entries[1].previousHash == entries[0].hash && entries[2].previousHash == entries[1].hash)
            #expect(entries.allSatisfy { $0.format == .signed && hub.log.isSignedByHub($0) })
            #expect(entries.allSatisfy { $0.at == hub.clock.now() })
            #expect(try await hub.log.entries(after: 1, limit: 1).map(\.sequence) == [2])

            let newest = try #require(try await hub.otherLog.newest())
            #expect(newest == entries[2])
            let verified = try await hub.log.verify(head: entries[1].hash)
            guard case .intact(let position) = verified.verdict else {
                Issue.record("\(verified)")
                return
            }
            #expect(position.count == 3 && position.sequence == 3 && position.hash == newest.hash)
            #expect(position.lastUnsigned == 0)
            #expect(verified.head == .found(sequence: 2))
            #expect(try await hub.log.verify(head: Data(repeating: 7, count: 32)).head == .missing)
        }
    }

    /// Replays a viewer's `GET /console/audit?before=-9223372036854775808` (and `before=-9223372036854775000`),
    /// found by review: on PostgreSQL, whose log pages with `HubAuditLog`'s default, `before - 1`
    /// and then `end - 5000` overflowed and the trap stopped the whole hub process.
    @Test(arguments: RegistryBackend.enabled)
    func aPageBeforeAnyBoundAQueryCanNameIsReadWithoutTrapping(_ backend: RegistryBackend) async throws {
        try await AuditLogUnderTest.with(backend) { hub in
            for index in 1...3 {
                try await hub.log.append([AuditEvent(actor: "operator", action: .codeIssued, subject: "device-\(index)")])
            }
            for before: Int64 in [.min, .min + 1, -9_223_372_036_854_775_000, -1, 0, 1] {
                let page = try await hub.log.entries(before: before, actor: nil, action: nil, limit: 50)
                #expect(page.entries.isEmpty, "before \(before)")
                #expect(page.nextBefore == nil, "before \(before)")
            }
            let newest = try await hub.log.entries(before: .max, actor: nil, action: nil, limit: 50)
            #expect(newest.entries.map(\.sequence) == [3, 2, 1])
            let older = try await hub.log.entries(before: 3, actor: "operator", action: nil, limit: 1)
            #expect(older.entries.map(\.sequence) == [2])
            #expect(older.nextBefore == 2)
        }
    }

    @Test(arguments: RegistryBackend.enabled)
    func anEntryChangedInTheDatabaseIsFoundByVerify(_ backend: RegistryBackend) async throws {
        try await AuditLogUnderTest.with(backend) { hub in
            for index in 1...4 {
                try await hub.log.append([AuditEvent(actor: "operator", action: .codeIssued, subject: "device-\(index)")])
            }
            let head = try #require(try await hub.log.newest())
            // The table refuses changes.
            await #expect(throws: (any Error).self) { try await hub.tamper(2, false) }
            #expect(try await hub.log.verify(head: head.hash).head == .found(sequence: 4))
            try await hub.tamper(2, true)
            let verified = try await hub.log.verify(head: head.hash)
            #expect(verified.verdict == .broken(AuditChainBreak(sequence: 2, problem: .hashMismatch)))
            #expect(try await hub.allEntries().map(\.subject) == ["device-1", "someone else", "device-3", "device-4"])
        }
    }

    @Test(arguments: RegistryBackend.enabled)
    func deviceAdministrationIsAudited(_ backend: RegistryBackend) async throws {
        try await AuditLogUnderTest.with(backend) { hub in
            let regional = AccessGrants(
                read: Scope(text: "observations/SD-*") ?? .nothing, write: Scope(text: "observations/SD-DN") ?? .nothing)
            let code = try await hub.code(for: "amina-laptop", grants: regional)
            let amina = EnrollingDevice()
            #expect(
                try await hub.registry.enroll(try amina.request(code), credential: amina.credential)
                    == .enrolled(name: "amina-laptop"))
            let wider = try #require(Scope(text: "observations/*"))
            _ = try await hub.administration.setGrants(read: wider, write: nil, ofDevice: "amina-laptop", actor: "operator")
            let record = try #require(try await hub.registry.device(presenting: amina.credential))
            let next = ReplicaID.random()
            _ = try await hub.registry.incarnate(record, as: next, forkedAt: nil)
            _ = try await hub.code(for: "jonas-box")
            #expect(try await hub.administration.cancelEnrollmentCodes("jonas-box") != .notFound)
            let revoked = try await hub.administration.revokeDevice("amina-laptop", actor: "operator")
            guard case .revoked = revoked else {
                Issue.record("\(revoked)")
                return
            }

            let entries = try await hub.allEntries()
            #expect(
                entries.map(\.action) == [
                    .codeIssued, .enrolled, .scopesChanged, .incarnated, .codeIssued, .codeCancelled, .revoked,
                ])
            #expect(entries.map(\.subject) == [
                "amina-laptop", "amina-laptop", "amina-laptop", "amina-laptop", "jonas-box", "jonas-box", "amina-laptop",
            ])
            #expect(entries[0].detail["read"] == "observations/SD-*" && entries[0].detail["write"] == "observations/SD-DN")
            #expect(entries[1].actor == amina.replica.hex && entries[1].detail["replica"] == amina.replica.hex)
            #expect(entries[2].detail["readBefore"] == "observations/SD-*" && entries[2].detail["read"] == "observations/*")
            #expect(entries[3].detail["replica"] == next.hex && entries[3].detail["enrolled"] == amina.replica.hex)
            #expect(entries[5].detail["code"]?.count == EnrollmentCodeRecord.hashPrefixLength)
            #expect(entries[6].actor == "operator" && entries[6].detail["replica"] == amina.replica.hex)
            #expect(entries[6].detail["codesCancelled"] == "0")
            #expect(entries[6].detail["horizons"] == [amina.replica.hex + "=0", next.hex + "=0"].sorted().joined(separator: ","))
            guard case .intact(let position) = try await hub.log.verify(head: nil).verdict else {
                Issue.record("the chain does not verify")
                return
            }
            #expect(position.count == entries.count)
        }
    }

    @Test(arguments: RegistryBackend.enabled)
    func aDeviceBeyondItsHourlyLimitIsCountedThenSummed(_ backend: RegistryBackend) async throws {
        try await AuditLogUnderTest.with(backend) { hub in
            let device = ReplicaID.random().hex
            var written: [Bool] = []
            for counter in 1...5 {
                written.append(
                    try await hub.log.appendWithinHourlyLimit(
                        AuditEvent(
                            actor: device, action: .verificationFailed, subject: "\(device.prefix(8)):\(counter)",
                            detail: ["reason": "bad-signature"]), limit: 2))
            }
            #expect(written == [true, true, false, false, false])
            // Another device has a limit of its own.
            #expect(
                try await hub.otherLog.appendWithinHourlyLimit(
                    AuditEvent(actor: ReplicaID.random().hex, action: .quarantined, subject: "x"), limit: 2))
            var entries = try await hub.allEntries()
            #expect(entries.map(\.action) == [.verificationFailed, .verificationFailed, .limitReached, .quarantined])
            #expect(entries[2].actor == "hub" && entries[2].subject == device && entries[2].detail["limit"] == "2")
            #expect(try await hub.log.pendingSuppressedCounts() == [device: ["version.verification-failed": 3]])

            // The first entry after the hour writes the counts of the hour that ended.
            hub.clock.advance(by: 3_600_000)
            try await hub.log.append([AuditEvent(actor: "operator", action: .codeIssued, subject: "late")])
            entries = try await hub.allEntries()
            #expect(entries.suffix(2).map(\.action) == [.suppressed, .codeIssued])
            let summed = try #require(entries.dropLast().last)
            #expect(summed.subject == device && summed.detail["version.verification-failed"] == "3")
            #expect(try await hub.log.pendingSuppressedCounts().isEmpty)
            // A new hour, a new budget.
            #expect(
                try await hub.log.appendWithinHourlyLimit(
                    AuditEvent(actor: device, action: .verificationFailed, subject: "again"), limit: 2))
            guard case .intact(let position) = try await hub.log.verify(head: nil).verdict else {
                Issue.record("the chain does not verify")
                return
            }
            #expect(position.count == entries.count + 1)
        }
    }
}
