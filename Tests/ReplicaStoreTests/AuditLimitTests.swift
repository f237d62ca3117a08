import Foundation
import HubStore
import HubStoreSQLite
import ReplicaStore
import SyncEngine
import Testing
import TestSupport

/// What one device can make a hub write (issue 10 §4): audit entries and foreign-quarantine rows
/// per device per hour are capped, beyond the cap counted in one entry; reports of failed
/// verification are taken only for versions the hub could have served the reporting device.
@Suite("Audit limits and verification reports")
struct AuditLimitTests {
    static let hour: UInt64 = 3_600_000
    /// The start of an hour, so that a test's ticks stay in it.
    static let start: UInt64 = 1_700_002_800_000

    /// A hub on the folder's pinned clock (each test passes its limit per device per hour).
    static func hub(_ folder: TemporaryReplica) throws -> ReplicaStore {
        try ReplicaStore.createHub(at: folder.path("hub"), options: folder.options)
    }

    /// `count` versions signed by `field`, as a forger would relay them.
    static func versions(_ field: ReplicaStore, _ count: Int) throws -> [Version] {
        try (0..<count).map { try field.write(StoreFixtures.put("doc-\($0)", "forged \($0)")) }
    }

    /// A device pushing forged versions of others: today every one was kept and audited, so
    /// one device could fill the disk and the log. Replays 5 forgeries against a limit of 3.
    @Test func foreignQuarantineAndItsEntriesAreCappedPerDevicePerHour() async throws {
        try await TemporaryReplica.withFolder { folder in
            folder.clock.set(Self.start)
            let (hub, limit) = (try Self.hub(folder), 3)
            let field = try folder.create("field")
            let pusher = ReplicaID.random()
            let dropped = try hub.quarantineForeign(try Self.versions(field, 5).map { (version: $0, reason: SetAsideReason(.badSignature, "bad signature")) }, pushedBy: pusher, limit: limit)
            #expect(dropped == 2)
            #expect(try hub.foreignQuarantineCount() == 3)
            let entries = try hub.auditEntries(after: 0, limit: 100)
            #expect(entries.map(\.action) == [.quarantined, .quarantined, .quarantined, .limitReached])
            #expect(entries.last?.subject == pusher.hex)
            #expect(entries.last?.actor == AuditEntry.hubActor)
            #expect(try hub.pendingSuppressedCounts() == [pusher.hex: ["foreign-quarantine": 2]])

            // Still within the hour: counted, no further entry.
            #expect(try hub.quarantineForeign(try Self.versions(field, 1).map { (version: $0, reason: SetAsideReason(.badSignature, "bad signature")) }, pushedBy: pusher, limit: limit) == 1)
            #expect(try hub.auditEntryCount() == 4)

            // The next hour: the count is written as one entry with the first entry after it.
            folder.clock.set(Self.start + Self.hour + 10)
            try hub.appendAudit(actor: AuditEntry.operatorActor, action: .revoked, subject: "someone")
            let later = try hub.auditEntries(after: 4, limit: 100)
            #expect(later.map(\.action) == [.suppressed, .revoked])
            #expect(later.first?.subject == pusher.hex)
            #expect(later.first?.detail["foreign-quarantine"] == "3")
            #expect(later.first?.detail["from"] == "\(Self.start)")
            #expect(try hub.pendingSuppressedCounts().isEmpty)
            guard case .intact = try hub.verifyAuditChain().verdict else {
                Issue.record("the chain broke")
                return
            }
        }
    }

    /// Another device pushing is not held back by the first one's limit.
    @Test func theLimitIsPerDevice() async throws {
        try await TemporaryReplica.withFolder { folder in
            folder.clock.set(Self.start)
            let (hub, limit) = (try Self.hub(folder), 2)
            let field = try folder.create("field")
            let forged = try Self.versions(field, 4)
            #expect(try hub.quarantineForeign(forged.prefix(3).map { (version: $0, reason: SetAsideReason(.badSignature, "bad signature")) }, pushedBy: .random(), limit: limit) == 1)
            #expect(try hub.quarantineForeign([(forged[3], SetAsideReason(.badSignature, "bad signature"))], pushedBy: .random(), limit: limit) == 0)
            #expect(try hub.foreignQuarantineCount() == 3)
        }
    }

    @Test func noLimitWhenZero() async throws {
        try await TemporaryReplica.withFolder { folder in
            let (hub, limit) = (try Self.hub(folder), 0)
            let field = try folder.create("field")
            #expect(try hub.quarantineForeign(try Self.versions(field, 5).map { (version: $0, reason: SetAsideReason(.badSignature, "bad signature")) }, pushedBy: .random(), limit: limit) == 0)
            #expect(try hub.auditEntryCount() == 5)
        }
    }

    /// A device reporting versions it was never served: today each report was audited, so a
    /// device could fabricate evidence against the hub or another device, and fill the log.
    @Test func reportsAreTakenOnlyForVersionsTheHubCouldHaveServedTheDevice() async throws {
        try await TemporaryReplica.withFolder { folder in
            let (hub, limit) = (try Self.hub(folder), 100)
            let (a, b) = (try folder.create("a"), try folder.create("b"))
            let fromA = try a.write(StoreFixtures.put("x", "from a"))
            try hub.apply([fromA], from: a.replicaID)
            let report = VerificationReport(dot: fromA.dot, reason: .badSignature)
            let never = VerificationReport(dot: Dot(replica: b.replicaID, counter: 7), reason: .badSignature)

            // b was served a's version: taken. a reports its own push back, and a dot the hub
            // does not hold: ignored, counted in one entry.
            #expect(try hub.auditVerificationReports([report], reportedBy: b.replicaID, limit: limit) == VerificationReportOutcome(accepted: 1, ignored: 0))
            #expect(try hub.auditVerificationReports([report, never], reportedBy: a.replicaID, limit: limit) == VerificationReportOutcome(accepted: 0, ignored: 2))
            let entries = try hub.auditEntries(after: 0, limit: 10)
            #expect(entries.map(\.action) == [.verificationFailed, .reportsIgnored])
            #expect(entries[0].actor == b.replicaID.hex)
            #expect(entries[0].subject == fromA.dot.description)
            #expect(entries[1].actor == a.replicaID.hex)
            #expect(entries[1].detail["count"] == "2")
        }
    }

    @Test func reportsAreCappedPerDevicePerHour() async throws {
        try await TemporaryReplica.withFolder { folder in
            folder.clock.set(Self.start)
            let (hub, limit) = (try Self.hub(folder), 3)
            let (a, b) = (try folder.create("a"), try folder.create("b"))
            let versions = try Self.versions(a, 5)
            try hub.apply(versions, from: a.replicaID)
            let reports = versions.map { VerificationReport(dot: $0.dot, reason: .badSignature) }
            #expect(try hub.auditVerificationReports(reports, reportedBy: b.replicaID, limit: limit) == VerificationReportOutcome(accepted: 5, ignored: 0))
            let entries = try hub.auditEntries(after: 0, limit: 10)
            #expect(entries.map(\.action) == [.verificationFailed, .verificationFailed, .verificationFailed, .limitReached])
            #expect(try hub.pendingSuppressedCounts() == [b.replicaID.hex: ["version.verification-failed": 2]])
        }
    }
}
