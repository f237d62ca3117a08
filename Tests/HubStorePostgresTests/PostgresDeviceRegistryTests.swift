import Foundation
import HubStore
@testable import HubStorePostgres
import PostgresNIO
import SyncEngine
import Testing

/// What the device registry keeps on PostgreSQL, read from its tables (the conformance suite
/// checks behaviour through the protocols; this checks what is at rest).
@Suite(.enabled(if: PostgresTestDatabase.isEnabled, PostgresTestDatabase.disabledReason), .serialized)
struct PostgresDeviceRegistryTests {
    @Test func credentialsAndCodesAreKeptOnlyAsTheirHashes() async throws {
        try await PostgresTestDatabase.withClients(1) { clients, schema in
            let tables = try PostgresDeviceTables(
                client: clients[0], schema: schema, hubID: .random(), hubKey: DeviceKey(),
                logger: PostgresTestDatabase.quiet)
            let registry = PostgresDeviceRegistry(tables: tables)
            let administration = PostgresDeviceAdministration(tables: tables)
            let code = EnrollmentCode.random()
            let codeHash = try #require(EnrollmentCode.hash(code))
            let normalized = try #require(EnrollmentCode.normalized(code))
            let added = try await administration.addEnrollmentCode(
                hash: codeHash, deviceName: "amina-laptop", grants: .everything,
                expiresAt: try await administration.now() + 60_000, actor: "test")
            #expect(added)
            let device = EnrollingDevice()
            #expect(
                try await registry.enroll(try device.request(code), credential: device.credential)
                    == .enrolled(name: "amina-laptop"))

            let stored = try await clients[0].query(
                PostgresQuery(
                    unsafeSQL: "SELECT credential_hash FROM \(schema).devices WHERE replica_id = $1",
                    binds: Self.binds([device.replica.hex])))
            var hashes: [Data] = []
            for try await hash in stored.decode(Data.self) { hashes.append(hash) }
            #expect(hashes == [device.credential.hash])
            // No row of either table holds the secrets, as text or as bytes (a row's text shows bytea in hex).
            for secret in [device.credential.text, code, normalized] {
                for table in ["devices", "enrollment_codes"] {
                    let hex = Data(secret.utf8).map { String(format: "%02x", $0) }.joined()
                    let rows = try await clients[0].query(
                        PostgresQuery(
                            unsafeSQL:
                                "SELECT count(*) FROM \(schema).\(table) t WHERE strpos(t::text, $1) > 0 OR strpos(t::text, $2) > 0",
                            binds: Self.binds([secret, hex])))
                    for try await count in rows.decode(Int64.self) {
                        #expect(count == 0, "\(table) holds a secret")
                    }
                }
            }
        }
    }

    private static func binds(_ texts: [String]) -> PostgresBindings {
        var bindings = PostgresBindings()
        for text in texts { bindings.append(text) }
        return bindings
    }
}
