import Foundation
import ReplicaStore
import SyncEngine
import SyncHub
import Testing
import TestSupport

/// What the hub's storage records in the audit log: versions it sets aside, and its merges.
@Suite("Hub audit log")
struct HubAuditLogTests {
    @Test func setAsideVersionsAreAuditedWithTheApply() async throws {
        try await TemporaryReplica.withReplicas(2) { stores in
            let (hub, field) = (stores[0], stores[1])
            let storage = SQLiteHubStorage(store: hub)
            let kept = try field.write(StoreFixtures.put("a", "kept"))
            let refused = try field.write(StoreFixtures.put("b", "refused"))
            let report = try await storage.apply([kept, refused], from: field.replicaID) { version, _ in
                version.dot == refused.dot ? .setAside(SetAsideReason(.outOfScope, "out of scope: notes/north")) : .merge
            }
            #expect(report.setAside.count == 1)
            let entries = try hub.auditEntries(after: 0, limit: 10)
            #expect(entries.count == 1)
            #expect(entries.first?.action == .quarantined)
            #expect(entries.first?.actor == field.replicaID.hex)
            #expect(entries.first?.subject == refused.dot.description)
            #expect(entries.first?.detail == ["code": "out-of-scope", "reason": "out of scope: notes/north", "collection": "notes", "document": "b"])

            // Pushed again after a lost answer: already held, not audited twice.
            _ = try await storage.apply([kept, refused], from: field.replicaID) { _, _ in .merge }
            #expect(try hub.auditEntryCount() == 1)
        }
    }

    @Test func fieldwiseMergesAreAudited() async throws {
        try await TemporaryReplica.withReplicas(3) { stores in
            let (hub, a, b) = (stores[0], stores[1], stores[2])
            let storage = SQLiteHubStorage(store: hub)
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
            try hub.apply([editB], from: b.replicaID)
            #expect(try hub.document(key)?.isConflicted == true)
            #expect(try hub.auditEntryCount() == 0)

            #expect(try await storage.mergeFieldwise([key]) == 1)
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
}

extension HubAuditLogTests {
    /// A device fabricating reports about versions it was never served (issue 10 §4): before, the
    /// hub audited every one; now the exchange goes through, the reports are ignored and counted.
    @Test func fabricatedVerificationReportsAreIgnoredAndCounted() async throws {
        try await TemporaryReplica.withReplicas(3) { stores in
            let (hubStore, a, b) = (stores[0], stores[1], stores[2])
            let hub = HubExchange(storage: SQLiteHubStorage(store: hubStore), configuration: HubConfiguration(), logger: HubFixture.silentLogger)
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
    /// reaches the store the hub writes its audit log with.
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
            #expect((exchange.storage as? SQLiteHubStorage)?.store.deviceEntriesPerHour == 7)
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
