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
            let code = EnrollmentCode.random()
            let hash = try #require(EnrollmentCode.hash(code))
            #expect(
                try await hubB.addEnrollmentCode(
                    hash: hash, deviceName: "seized-tablet", grants: .everything,
                    expiresAt: try await hubB.now() + 3_600_000, actor: "test"))
            let device = EnrollingDevice()
            #expect(
                try await registry.enroll(try device.request(code), credential: device.credential)
                    == .enrolled(name: "seized-tablet"))
            let policy = AdmissionPolicy(writeScopes: [device.replica: .everything])
            let before = try PushFixtures.versions(device.replica, 1...2)
            #expect(
                try await hubA.take(PushPlan(versions: before, pusher: device.replica, policy: policy)).applied.stored
                    == 2)
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
}
