import Foundation
import HubStore
import HubStoreSQLite
@testable import HubStorePostgres
import ReplicaStore
import SyncEngine
import Testing

/// The backends the device registry's conformance suite runs on: SQLite always, PostgreSQL when
/// `VIGIL_TEST_POSTGRES` names a server (or `VIGIL_REQUIRE_POSTGRES=1` requires one, as CI does).
enum RegistryBackend: String, Sendable, CustomTestStringConvertible {
    case sqlite
    case postgres

    static var enabled: [RegistryBackend] { PostgresTestDatabase.isEnabled ? [.sqlite, .postgres] : [.sqlite] }

    var testDescription: String { rawValue }
}

/// One hub's device registry and its administration over the same tables, as a backend gives them.
struct RegistryUnderTest: Sendable {
    let registry: any DeviceRegistry
    /// A second registry over the same database with connections of its own (another hub process).
    let otherRegistry: any DeviceRegistry
    let administration: any DeviceAdministrationStorage
    /// The hub's storage over the same tables (pushes, with what it sets aside and quarantines).
    let storage: any HubStorage
    let hubID: ReplicaID
    let hubKey: PublicDeviceKey
    /// Stores versions as admitted by the hub (its knowledge of their origins rises).
    let admit: @Sendable ([Version]) async throws -> Void

    /// Runs `body` with a fresh registry on `backend`, removed afterwards.
    static func with<Result>(_ backend: RegistryBackend, _ body: (RegistryUnderTest) async throws -> Result)
        async throws -> Result
    {
        switch backend {
        case .sqlite:
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
                "vigil-registry-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: folder) }
            let path = folder.appendingPathComponent("hub.sqlite").path
            let store = try ReplicaStore.createHub(at: path)
            let other = try ReplicaStore.openHub(at: path)
            return try await body(
                RegistryUnderTest(
                    registry: SQLiteDeviceRegistry(store: store), otherRegistry: SQLiteDeviceRegistry(store: other),
                    administration: SQLiteDeviceAdministration(store: store), storage: try SQLiteHubStorage(store: store),
                    hubID: store.replicaID,
                    hubKey: store.publicKey,
                    admit: { versions in _ = try store.apply(versions, from: versions.first?.dot.replica) }))
        case .postgres:
            return try await PostgresTestDatabase.withClients(2) { clients, schema in
                let hubID = ReplicaID.random()
                let hubKey = DeviceKey()
                let tables = try clients.map { client in
                    try PostgresDeviceTables(
                        client: client, schema: schema, hubID: hubID, hubKey: hubKey, logger: PostgresTestDatabase.quiet
                    )
                }
                let feed = try PostgresFeed(client: clients[0], schema: schema, logger: PostgresTestDatabase.quiet)
                return try await body(
                    RegistryUnderTest(
                        registry: PostgresDeviceRegistry(tables: tables[0]),
                        otherRegistry: PostgresDeviceRegistry(tables: tables[1]),
                        administration: PostgresDeviceAdministration(tables: tables[0]),
                        storage: try PostgresHubStorage(tables: tables[0]), hubID: hubID,
                        hubKey: hubKey.publicKey,
                        admit: { versions in
                            _ = try await feed.append(versions, receivedFrom: versions.first?.dot.replica)
                        }))
            }
        }
    }
}

/// A device about to enroll: its key, id and credential.
struct EnrollingDevice: Sendable {
    let key = DeviceKey()
    let replica = ReplicaID.random()
    let credential = DeviceCredential.random()

    func request(_ code: String) throws -> EnrollmentRequest {
        try EnrollmentRequest(code: code, replica: replica, key: key)
    }

    /// Its versions 1...count, signed, each a document of its own in `observations/SD-DN`.
    func versions(_ count: UInt64) throws -> [Version] {
        try (1...count).map { counter in
            try key.sign(try FeedFixtures.version(replica, counter))
        }
    }
}

extension RegistryUnderTest {
    /// Gives out a code for `name` with `grants`, valid for an hour (or until `expiresAt`).
    func code(for name: String, grants: AccessGrants = .everything, expiresAt: UInt64? = nil) async throws -> String {
        let code = EnrollmentCode.random()
        let hash = try #require(EnrollmentCode.hash(code))
        let expiry: UInt64
        if let expiresAt { expiry = expiresAt } else { expiry = try await administration.now() + 3_600_000 }
        let added = try await administration.addEnrollmentCode(
            hash: hash, deviceName: name, grants: grants, expiresAt: expiry, actor: "test")
        #expect(added)
        return code
    }

    /// Enrolls a new device called `name` and returns it.
    func enrolled(_ name: String, grants: AccessGrants = .everything) async throws -> EnrollingDevice {
        let device = EnrollingDevice()
        let outcome = try await registry.enroll(
            try device.request(try await code(for: name, grants: grants)), credential: device.credential)
        #expect(outcome == .enrolled(name: name))
        return device
    }
}
