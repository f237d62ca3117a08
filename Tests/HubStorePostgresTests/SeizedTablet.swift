import HubStore
@testable import HubStorePostgres
import SyncEngine
import Testing

/// The device of the revocation races (PostgresHubStorageTests, PushGuardTests): "seized-tablet",
/// enrolled through one hub process's registry, its versions 1 and 2 taken by another's storage.
struct SeizedTablet {
    let device = EnrollingDevice()
    /// What the device may write: everything.
    let policy: AdmissionPolicy
    /// Its versions 1 and 2, held by the hub.
    let held: [Version]

    /// Enrolls the device with a code `administration` gives out, then lets `storage` take its
    /// versions 1 and 2.
    init(
        administration: PostgresDeviceAdministration, registry: PostgresDeviceRegistry, storage: PostgresHubStorage
    ) async throws {
        let code = EnrollmentCode.random()
        let hash = try #require(EnrollmentCode.hash(code))
        #expect(
            try await administration.addEnrollmentCode(
                hash: hash, deviceName: "seized-tablet", grants: .everything,
                expiresAt: try await administration.now() + 3_600_000, actor: "test"))
        #expect(
            try await registry.enroll(try device.request(code), credential: device.credential)
                == .enrolled(name: "seized-tablet"))
        policy = AdmissionPolicy(writeScopes: [device.replica: .everything])
        held = try PushFixtures.versions(device.replica, 1...2)
        #expect(
            try await storage.take(PushPlan(versions: held, pusher: device.replica, policy: policy)).applied.stored
                == 2)
    }
}
