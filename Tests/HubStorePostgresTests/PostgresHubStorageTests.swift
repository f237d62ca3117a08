import Foundation
import HubStore
@testable import HubStorePostgres
import SyncEngine
import Testing

/// What the PostgreSQL hub storage does beyond the shared contract (HubStorageConformanceTests).
@Suite(.enabled(if: PostgresTestDatabase.isEnabled, PostgresTestDatabase.disabledReason), .serialized)
struct PostgresHubStorageTests {
    @Test func aRevocationCommittedByAnotherHubHoldsForAPushTakenAfterIt() async throws {
        // Replays: hub A authenticates a device and checks the horizons (none), hub B revokes the
        // device, then hub A takes the push. Without the check inside the take, versions above the
        // horizon were stored (seen failing with the check removed).
        try await PostgresTestDatabase.withClients(2) { clients, schema in
            let hubID = ReplicaID.random()
            let hubKey = DeviceKey()
            let tables = try clients.map {
                try PostgresDeviceTables(
                    client: $0, schema: schema, hubID: hubID, hubKey: hubKey, logger: PostgresTestDatabase.quiet)
            }
            let hubA = try PostgresHubStorage(tables: tables[0])
            let hubB = PostgresDeviceAdministration(tables: tables[1])
            let registry = PostgresDeviceRegistry(tables: tables[1])
            let tablet = try await SeizedTablet(administration: hubB, registry: registry, storage: hubA)
            let (device, policy, before) = (tablet.device, tablet.policy, tablet.held)
            guard case .revoked = try await hubB.revokeDevice("seized-tablet", actor: "test") else {
                Issue.record("seized-tablet was not revoked")
                return
            }
            let after = try PushFixtures.versions(device.replica, 3...4)
            let report = try await hubA.take(
                PushPlan(versions: before + after, pusher: device.replica, policy: policy))
            #expect(report.applied.alreadyHeld == 2)
            #expect(report.applied.stored == 0)
            #expect(report.applied.refused == after.map(\.dot))
            #expect(try await hubA.versions(at: after.map(\.dot)).isEmpty)
        }
    }

    @Test func aPushRaisesTheKnowledgeThroughVersionsHeldAboveAGap() async throws {
        // Replays: the feed holds 1, 2 and 4 of an origin (4 came by another way, the knowledge
        // stays at 2), then a push brings 3. The push's one statement sees 3 only as its own
        // insert and 4 only in the table: the knowledge must reach 4 across both.
        try await withStorage { storage in
            let origin = ReplicaID.random()
            let appended = try PushFixtures.versions(origin, 1...2) + [try PushFixtures.version(origin, 4)]
            _ = try await storage.feed.append(appended, receivedFrom: nil)
            #expect(try await knowledge(of: origin, in: storage) == 2)
            let push = PushPlan(versions: [try PushFixtures.version(origin, 3)], pusher: origin, policy: .inOrder)
            #expect(try await storage.take(push).applied.stored == 1)
            #expect(try await knowledge(of: origin, in: storage) == 4)
        }
    }

    @Test func aPushOfMoreThanOneStatementStoresAndKnowsEveryVersion() async throws {
        // A push of 1,201 versions is stored in three statements (500 rows each), the last one
        // raising the knowledge: every version is held, in order, and the knowledge is the last.
        try await withStorage { storage in
            let origin = ReplicaID.random()
            let versions = try PushFixtures.versions(origin, 1...1_201)
            let report = try await storage.take(PushPlan(versions: versions, pusher: origin, policy: .inOrder))
            #expect(report.applied.stored == 1_201)
            #expect(try await knowledge(of: origin, in: storage) == 1_201)
            let page = try await storage.feed.page(after: .start, limit: 2_000, maxBytes: 1 << 30)
            #expect(page.versions.map(\.dot) == versions.map(\.dot))
        }
    }

    @Test func aPushsSetAsideAndForgedVersionsAreAuditedInItsTransaction() async throws {
        // Replays: a seized device pushes one version outside its write scope and one whose
        // signature fails. The SQLite hub audits both (`version.quarantined`); before the push path
        // called PostgresAuditLog, a PostgreSQL hub only logged them and its audit log stayed empty.
        try await withStorage { storage in
            let device = ReplicaID.random()
            let outside = try PushFixtures.version(device, 1, partition: "SD-NK")
            let forged = try PushFixtures.version(ReplicaID.random(), 1)
            let policy = AdmissionPolicy(writeScopes: [device: try #require(Scope(text: "*/SD-DN"))])
            let badSignature = SetAsideReason(.badSignature, "the signature does not verify")
            let report = try await storage.take(
                PushPlan(versions: [outside], pusher: device, policy: policy, forged: [(forged, badSignature)]))
            #expect(report.applied.setAside.keys.sorted() == [outside.dot])
            let log = PostgresAuditLog(tables: storage.tables)
            let entries = try await log.entries(after: 0, limit: 10)
            #expect(entries.map(\.action) == [.quarantined, .quarantined])
            #expect(Set(entries.map(\.subject)) == [outside.dot.description, forged.dot.description])
            #expect(entries.allSatisfy { $0.actor == device.hex })
            guard case .intact = try await log.verify(head: nil).verdict else {
                Issue.record("the audit chain does not verify")
                return
            }
        }
    }

    private func withStorage(_ body: (PostgresHubStorage) async throws -> Void) async throws {
        try await PostgresTestDatabase.withClients(1) { clients, schema in
            let tables = try PostgresDeviceTables(
                client: clients[0], schema: schema, hubID: ReplicaID.random(), hubKey: DeviceKey(),
                logger: PostgresTestDatabase.quiet)
            try await body(try PostgresHubStorage(tables: tables))
        }
    }

    private func knowledge(of origin: ReplicaID, in storage: PostgresHubStorage) async throws -> UInt64 {
        try await storage.feed.page(after: .start, limit: 1, maxBytes: 1 << 20, knowledgeOf: [origin]).knowledge[origin]
    }
}
