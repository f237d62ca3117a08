import Foundation
import HubStore
import HubStoreSQLite
@testable import HubStorePostgres
import PostgresNIO
import ReplicaStore
import SyncEngine
import Synchronization
import Testing

/// A clock the audit suites move by hand (milliseconds since 1970).
final class AuditTestClock: Sendable {
    private let milliseconds: Mutex<UInt64>

    /// 10 minutes into an hour.
    init(_ start: UInt64 = 1_800_000_000_000 - 1_800_000_000_000 % 3_600_000 + 600_000) {
        milliseconds = Mutex(start)
    }

    @Sendable func now() -> UInt64 { milliseconds.withLock { $0 } }

    func advance(by delta: UInt64) { milliseconds.withLock { $0 += delta } }

    /// Runs `body` with a new hub file on this clock, opened twice (a second hub process's
    /// connections), in a temporary folder named after `purpose`, removed afterwards.
    func withHubFile<Result>(
        _ purpose: String, _ body: (_ store: ReplicaStore, _ other: ReplicaStore) async throws -> Result
    ) async throws -> Result {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-\(purpose)-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("hub.sqlite").path
        var options = ReplicaStore.Options()
        options.now = now
        let store = try ReplicaStore.createHub(at: path, options: options)
        return try await body(store, try ReplicaStore.openHub(at: path, options: options))
    }
}

/// One hub's audit log as a backend gives it, with the device registry and administration that
/// write to it, on a clock the test moves. The audit log's conformance suite runs over it on every
/// backend in ``RegistryBackend/enabled``.
struct AuditLogUnderTest: Sendable {
    let log: any HubAuditLog
    /// A second log over the same database with connections of its own (another hub process).
    let otherLog: any HubAuditLog
    let registry: any DeviceRegistry
    let administration: any DeviceAdministrationStorage
    let clock: AuditTestClock
    /// Changes the subject of entry `sequence` in the database, behind the log's back, first
    /// disabling the table's append-only trigger when `disablingTrigger`.
    let tamper: @Sendable (_ sequence: Int64, _ disablingTrigger: Bool) async throws -> Void

    /// Runs `body` with a fresh hub on `backend`, removed afterwards.
    static func with<Result>(_ backend: RegistryBackend, _ body: (AuditLogUnderTest) async throws -> Result)
        async throws -> Result
    {
        let clock = AuditTestClock()
        switch backend {
        case .sqlite:
            return try await clock.withHubFile("audit") { store, other in
                try await body(
                    AuditLogUnderTest(
                        log: SQLiteHubAuditLog(store: store), otherLog: SQLiteHubAuditLog(store: other),
                        registry: SQLiteDeviceRegistry(store: store), administration: SQLiteDeviceAdministration(store: store),
                        clock: clock,
                        tamper: { sequence, disablingTrigger in
                            try store.write { db in
                                if disablingTrigger { try db.execute(sql: "DROP TRIGGER IF EXISTS audit_log_no_update") }
                                try db.execute(
                                    sql: "UPDATE audit_log SET subject = 'someone else' WHERE seq = ?", arguments: [sequence])
                            }
                        }))
            }
        case .postgres:
            return try await PostgresTestDatabase.withClients(2) { clients, schema in
                let (hubID, hubKey) = (ReplicaID.random(), DeviceKey())
                let tables = try clients.map { client in
                    try PostgresDeviceTables(
                        client: client, schema: schema, hubID: hubID, hubKey: hubKey, logger: PostgresTestDatabase.quiet,
                        clock: clock.now)
                }
                return try await body(
                    AuditLogUnderTest(
                        log: PostgresAuditLog(tables: tables[0]), otherLog: PostgresAuditLog(tables: tables[1]),
                        registry: PostgresDeviceRegistry(tables: tables[0]),
                        administration: PostgresDeviceAdministration(tables: tables[0]), clock: clock,
                        tamper: { sequence, disablingTrigger in
                            // Who can drop the append-only trigger (the tables' owner) can change a row.
                            if disablingTrigger {
                                try await clients[0].query(
                                    "ALTER TABLE \(unescaped: schema).audit_log DISABLE TRIGGER audit_log_no_change",
                                    logger: PostgresTestDatabase.quiet)
                            }
                            try await clients[0].query(
                                "UPDATE \(unescaped: schema).audit_log SET subject = 'someone else' WHERE seq = \(sequence)",
                                logger: PostgresTestDatabase.quiet)
                        }))
            }
        }
    }

    /// Every entry, oldest first.
    func allEntries() async throws -> [AuditEntry] {
        try await log.entries(after: 0, limit: 10_000)
    }

    /// Gives out a code for `name`, valid for an hour.
    func code(for name: String, grants: AccessGrants = .everything) async throws -> String {
        let code = EnrollmentCode.random()
        let hash = try #require(EnrollmentCode.hash(code))
        let added = try await administration.addEnrollmentCode(
            hash: hash, deviceName: name, grants: grants, expiresAt: clock.now() + 3_600_000, actor: "operator")
        #expect(added)
        return code
    }
}
