import Foundation
import HubStore
import HubStoreSQLite
import ReplicaStore
import SyncEngine
import SyncHub
import Testing
import TestSupport

/// What the hub's storage records in the audit log: versions it sets aside, and its merges.
@Suite("Hub audit log")
struct HubAuditLogTests {
    @Test func setAsideVersionsAreAuditedWithTheApply() async throws {
        try await TemporaryReplica.withHubAndReplicas(2) { stores in
            let (hub, field) = (stores[0], stores[1])
            let storage = try SQLiteHubStorage(store: hub)
            let kept = try field.write(StoreFixtures.put("a", "kept"))
            let refused = try field.write(StoreFixtures.put("b", "refused"))
            let invalid = SetAsideReason(.invalidRecord, "invalid record: title is missing")
            let policy = AdmissionPolicy(recordProblems: [refused.dot: invalid])
            let report = try await storage.take(PushPlan(versions: [kept, refused], pusher: field.replicaID, policy: policy))
            #expect(report.applied.setAside == [refused.dot: invalid])
            let entries = try hub.auditEntries(after: 0, limit: 10)
            #expect(entries.count == 1)
            #expect(entries.first?.action == .quarantined)
            #expect(entries.first?.actor == field.replicaID.hex)
            #expect(entries.first?.subject == refused.dot.description)
            #expect(entries.first?.detail == ["code": "invalid-record", "reason": invalid.detail, "collection": "notes", "document": "b"])

            // Pushed again after a lost answer: already held, not audited twice, its reason told again.
            let again = try await storage.take(PushPlan(versions: [kept, refused], pusher: field.replicaID, policy: .inOrder))
            #expect(try hub.auditEntryCount() == 1)
            #expect(again.heldAside == [refused.dot: invalid])
        }
    }

    /// The two situation edits of `HubFieldwiseMergeTests`, the first held by `hub`, the second not.
    static func concurrentSituationEdits(
        hub: ReplicaStore, _ a: ReplicaStore, _ b: ReplicaStore
    ) throws -> (key: DocumentKey, first: Version, second: Version) {
        let key = DocumentKey(collection: try #require(CollectionName("situations")), id: try #require(DocumentID("s1")))
        let base = HubFieldwiseMergeTests.situation
        let first = try a.write(WriteIntent(key: key, body: Data(base.utf8)))
        try b.apply([first], from: a.replicaID)
        try hub.apply([first], from: a.replicaID)
        let editA = try a.write(WriteIntent(
            key: key, body: try HubFieldwiseMergeTests.edited(base, #""overall_risk_level": "high""#, #""overall_risk_level": "critical""#)))
        let editB = try b.write(WriteIntent(
            key: key, body: try HubFieldwiseMergeTests.edited(base, #""title": "North Darfur, March""#, #""title": "Revised""#)))
        try hub.apply([editA], from: a.replicaID)
        return (key, editA, editB)
    }

    @Test func fieldwiseMergesAreAuditedWithThePushThatMadeTheConflict() async throws {
        try await TemporaryReplica.withHubAndReplicas(3) { stores in
            let (hub, a, b) = (stores[0], stores[1], stores[2])
            let storage = try SQLiteHubStorage(store: hub)
            let (key, editA, editB) = try Self.concurrentSituationEdits(hub: hub, a, b)
            #expect(try hub.auditEntryCount() == 0)

            let report = try await storage.take(PushPlan(versions: [editB], pusher: b.replicaID, policy: .inOrder))
            #expect(report.merged == 1)
            let entries = try hub.auditEntries(after: 0, limit: 10)
            let merge = try #require(try hub.document(key)?.siblings.first)
            #expect(entries.count == 1)
            #expect(entries.first?.action == .resolved)
            #expect(entries.first?.actor == "hub")
            #expect(entries.first?.subject == key.description)
            #expect(entries.first?.detail["dot"] == merge.dot.description)
            #expect(entries.first?.detail["siblings"]?.contains(editA.dot.description) == true)
            guard case .intact = try hub.verifyAuditChain().verdict else {
                Issue.record("the chain broke")
                return
            }
        }
    }

    /// Issue 12, "one exchange, few transactions": a push, its quarantines, audit entries and the
    /// field-by-field merge it causes commit together. Replays a hub whose merge fails (here an
    /// injected trigger refuses the merge's audit entry): before, the push had already committed
    /// on its own and the merge was lost; now nothing of the push is kept, and it is pushed again.
    @Test(.enabled(if: SQLiteShell.isInstalled, "needs the sqlite3 shell"))
    func aPushAndTheMergeItCausesCommitTogether() async throws {
        try await TemporaryReplica.withHubAndReplicas(3) { stores in
            let (hub, a, b) = (stores[0], stores[1], stores[2])
            let storage = try SQLiteHubStorage(store: hub)
            let (key, _, editB) = try Self.concurrentSituationEdits(hub: hub, a, b)
            let forged = try a.write(StoreFixtures.put("forged", "x"))
            try #require(try SQLiteShell.run(hub.path, """
                CREATE TRIGGER refuse_merges BEFORE INSERT ON audit_log WHEN NEW.action = 'document.resolved'
                BEGIN SELECT RAISE(ABORT, 'injected'); END;
                """).status == 0)
            let plan = PushPlan(
                versions: [editB], pusher: b.replicaID, policy: .inOrder,
                forged: [(forged, SetAsideReason(.badSignature, "bad signature: injected"))])
            await #expect(throws: (any Error).self) { try await storage.take(plan) }
            #expect(try hub.history(of: key).map(\.version.dot).contains(editB.dot) == false)
            #expect(try hub.knowledge()[b.replicaID] == 0)
            #expect(try hub.foreignQuarantineCount() == 0)
            #expect(try hub.auditEntryCount() == 0)

            try #require(try SQLiteShell.run(hub.path, "DROP TRIGGER refuse_merges;").status == 0)
            let report = try await storage.take(plan)
            #expect(report.merged == 1)
            #expect(try hub.foreignQuarantineCount() == 1)
            #expect(try hub.document(key)?.isConflicted == false)
        }
    }
}

extension HubAuditLogTests {
    /// A device fabricating reports about versions it was never served (issue 10 §4): before, the
    /// hub audited every one; now the exchange goes through, the reports are ignored and counted.
    @Test func fabricatedVerificationReportsAreIgnoredAndCounted() async throws {
        try await TemporaryReplica.withHubAndReplicas(3) { stores in
            let (hubStore, a, b) = (stores[0], stores[1], stores[2])
            let hub = HubExchange(storage: try SQLiteHubStorage(store: hubStore), configuration: HubConfiguration(), logger: HubFixture.silentLogger)
            let written = try a.write(StoreFixtures.put("x", "from a"))
            try hubStore.apply([written], from: a.replicaID)
            var request = SyncRequest(replica: b.replicaID, counter: 0, checkpoint: nil, push: [])
            request.unverified = [
                VerificationReport(dot: written.dot, reason: .badSignature),
                VerificationReport(dot: Dot(replica: a.replicaID, counter: 99), reason: .badSignature),
                VerificationReport(dot: Dot(replica: .random(), counter: 1), reason: .unknownKey),
            ]
            let response = try await hub.handle(request)
            #expect(response.versions.map(\.dot) == [written.dot])
            let entries = try hubStore.auditEntries(after: 0, limit: 10)
            #expect(entries.map(\.action) == [.verificationFailed, .reportsIgnored])
            #expect(entries.first?.subject == written.dot.description)
            #expect(entries.last?.detail["count"] == "2")
        }
    }

    /// The per-device hourly limit is one row of the limits table (flag, variable, default) and
    /// reaches both parts of the SQLite hub that write a device's entries (the push's storage and
    /// the registry that audits verification reports).
    @Test func theDeviceLimitIsConfiguredLikeEveryLimit() async throws {
        try await TemporaryReplica.withFolder { folder in
            #expect(HubConfiguration.Limits().deviceEntriesPerHour == 1_000)
            let setting = try #require(HubConfiguration.Limits.setting(flag: "--device-entries-per-hour"))
            #expect(setting.environmentKey == "VIGIL_HUB_DEVICE_ENTRIES_PER_HOUR")
            #expect(setting.minimum == 0)
            let configuration = HubConfiguration.fromEnvironment(["VIGIL_HUB_DEVICE_ENTRIES_PER_HOUR": "7"])
            #expect(configuration.limits.deviceEntriesPerHour == 7)
            let exchange = try HubExchange.sqlite(
                path: folder.path("hub"), configuration: configuration, logger: HubFixture.silentLogger)
            #expect((exchange.storage as? SQLiteHubStorage)?.deviceEntriesPerHour == 7)
            #expect((exchange.devices as? SQLiteDeviceRegistry)?.deviceEntriesPerHour == 7)
        }
    }
}

/// The store tests' builders, for notes.
private enum StoreFixtures {
    static func put(_ id: String, _ text: String) -> WriteIntent {
        WriteIntent(
            key: DocumentKey(collection: CollectionName("notes")!, id: DocumentID(id)!), body: Data(#"{"text":"\#(text)"}"#.utf8))
    }
}
