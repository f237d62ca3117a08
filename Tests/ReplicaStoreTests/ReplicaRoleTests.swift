import Foundation
import GRDB
import HubStore
import HubStoreSQLite
import ReplicaStore
import SyncEngine
import Testing
import TestSupport

/// A replica file knows whether it is a device's or a hub's (issue 12, "A hub store of its own":
/// ReplicaStore becomes the field replica only, no hub tables in a device's file). A device's file
/// holds none of the hub's tables, a file is opened only in its own role, and a file from before
/// roles takes the opener's, never losing a hub's rows.
@Suite("Replica roles")
struct ReplicaRoleTests {
    /// The tables of the file at `store`'s path (not SQLite's own), read on the store's connection.
    static func tables(_ store: ReplicaStore) throws -> Set<String> {
        try store.read { db in
            Set(try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"))
        }
    }

    /// The migrations recorded in the file.
    static func migrations(_ store: ReplicaStore) throws -> Set<String> {
        try store.read { db in Set(try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations")) }
    }

    /// Every row of every table but the hub's, each column named, with the columns `table` had in
    /// `columns` (a file from before roles lacks `replica.role`), in a stable order.
    static func deviceRows(_ store: ReplicaStore, columns: [String: [String]]) throws -> [String: [String]] {
        try store.read { db in
            var rows: [String: [String]] = [:]
            for (table, names) in columns where !ReplicaStore.hubOnlyTables.contains(table) && table != "grdb_migrations" {
                let list = names.map { "\"\($0)\"" }.joined(separator: ", ")
                rows[table] = try Row.fetchAll(db, sql: "SELECT \(list) FROM \(table)").map(\.description).sorted()
            }
            return rows
        }
    }

    /// The columns of every table of the file.
    static func columns(_ store: ReplicaStore) throws -> [String: [String]] {
        let tables = try tables(store)
        return try store.read { db in
            var columns: [String: [String]] = [:]
            for table in tables { columns[table] = try db.columns(in: table).map(\.name) }
            return columns
        }
    }

    /// The schema and every row of the file at `path`, read on a read-only connection of its own
    /// (GRDB's pool writes the file when it opens it without a WAL, so its bytes are no measure).
    static func content(_ path: String) throws -> [String] {
        var configuration = Configuration()
        configuration.readonly = true
        return try DatabaseQueue(path: path, configuration: configuration).read { db in
            let schema = try Row.fetchAll(db, sql: "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name")
            var content = schema.map { "\($0["type"] as String) \($0["name"] as String) \(($0["sql"] as String?) ?? "")" }
            for row in schema where (row["type"] as String) == "table" {
                let table: String = row["name"]
                content += try Row.fetchAll(db, sql: "SELECT * FROM \(table)").map { "\(table): \($0)" }.sorted()
            }
            return content
        }
    }

    /// Fills a device's replica with rows of the tables a device writes (documents, a pinned hub,
    /// a peer's state), so that a migration that lost one would show.
    static func fill(_ store: ReplicaStore) throws {
        for index in 0..<5 { try store.write(StoreFixtures.put("n\(index)", "note \(index)")) }
        try store.pinHub(ReplicaID.random(), key: DeviceKey().publicKey)
        try store.updatePeer("https://hub.example") { state in state.lastError = "unreachable" }
    }

    @Test func aNewDeviceFileHoldsNoHubTableAndAHubFileHoldsThemAll() async throws {
        try await TemporaryReplica.withFolder { folder in
            let device = try folder.create("field")
            let hub = try folder.create("hub")
            let deviceTables = try Self.tables(device)
            let hubTables = try Self.tables(hub)
            for table in ReplicaStore.hubOnlyTables {
                #expect(!deviceTables.contains(table), "a device's file holds \(table)")
                #expect(hubTables.contains(table), "a hub's file lacks \(table)")
            }
            // The device's own tables are in both.
            for table in ["replica", "versions", "documents", "knowledge", "peers", "revocations", "informant_keys", "attachments"] {
                #expect(deviceTables.contains(table) && hubTables.contains(table), "\(table)")
            }
            #expect(device.role == .device && hub.role == .hub)
            // Only the hub's file records the hub's own migrations.
            #expect(try Self.migrations(hub).contains("hub-v1-hub-tables"))
            #expect(try !Self.migrations(device).contains { $0.hasPrefix("hub-") })
            // A device's writes, audited or signed nowhere, work without the hub's tables.
            try Self.fill(device)
            #expect(try device.status().documentsPerCollection.values.reduce(0, +) == 5)
        }
    }

    @Test func anOldDeviceFileLosesItsEmptyHubTablesAndKeepsEveryRow() async throws {
        try await TemporaryReplica.withFolder { folder in
            let columns: [String: [String]]
            let before: [String: [String]]
            do {
                let old = try folder.createBeforeRoles("field")
                try Self.fill(old)
                let tables = try Self.tables(old)
                #expect(ReplicaStore.hubOnlyTables.allSatisfy(tables.contains), "a file before roles holds the hub's tables")
                columns = try Self.columns(old)
                before = try Self.deviceRows(old, columns: columns)
            }
            let opened = try folder.open("field")
            let tables = try Self.tables(opened)
            #expect(ReplicaStore.hubOnlyTables.allSatisfy { !tables.contains($0) })
            #expect(try Self.deviceRows(opened, columns: columns) == before)
            #expect(try opened.read { try String.fetchOne($0, sql: "SELECT role FROM replica") } == "device")
            #expect(try Self.migrations(opened).contains("v23-replica-role"))
            // And it goes on working as a device's.
            try opened.write(StoreFixtures.put("n9", "after"))
            #expect(try opened.status().documentsPerCollection.values.reduce(0, +) == 6)
        }
    }

    @Test func anOldHubFileKeepsEverything() async throws {
        try await TemporaryReplica.withFolder { folder in
            let columns: [String: [String]]
            let rows: [String: [String]]
            let hubRows: [String: Int]
            do {
                let old = try folder.createBeforeRoles("hub")
                try old.write(StoreFixtures.put("n1", "note"))
                let code = DeviceCredential.random()
                #expect(try old.addEnrollmentCode(hash: code.hash, deviceName: "amina", expiresAt: old.now() + 60_000))
                let device = DeviceKey()
                _ = try old.enrollDevice(
                    codeHash: code.hash, replica: ReplicaID.random(), publicKey: device.publicKey,
                    credentialHash: DeviceCredential.random().hash)
                columns = try Self.columns(old)
                rows = try Self.deviceRows(old, columns: columns)
                hubRows = try old.read { db in
                    try Dictionary(uniqueKeysWithValues: ReplicaStore.hubOnlyTables.map { table in
                        (table, try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table)") ?? 0)
                    })
                }
            }
            #expect(hubRows["devices"] == 1 && hubRows["enrollment_codes"] == 1 && (hubRows["audit_log"] ?? 0) >= 2)
            let opened = try SQLiteHubStorage(store: try folder.open("hub")).store
            #expect(opened.role == .hub)
            #expect(try Self.deviceRows(opened, columns: columns) == rows)
            let after = try opened.read { db in
                try Dictionary(uniqueKeysWithValues: ReplicaStore.hubOnlyTables.map { table in
                    (table, try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table)") ?? 0)
                })
            }
            #expect(after == hubRows)
            #expect(try Self.migrations(opened).isSuperset(of: ["v23-replica-role", "hub-v1-hub-tables"]))
            #expect(try opened.devices().count == 1)
        }
    }

    /// A file from before roles whose hub tables hold rows is a hub's, whatever its name: opened as
    /// a device's it is refused, and neither its schema nor a row of it changes; the hub opens it.
    @Test(.enabled(if: SQLiteShell.isInstalled, "needs the sqlite3 shell"), arguments: [
        "INSERT INTO grant_sets (fingerprint, read_scope, write_scope) VALUES ('f', '*', '*')",
        "INSERT INTO enrollment_codes (code_hash, device_name, created_at, expires_at) VALUES (x'01', 'amina', 1, 2)",
        "INSERT INTO operators (name, role, created_at) VALUES ('ops', 'admin', 1)",
        "INSERT INTO hub_writers (replica_id, started_at) VALUES ('00000000000000000000000000000001', 1)",
    ])
    func aDeviceFileHoldingHubRowsIsRefusedUntouched(_ insert: String) async throws {
        try await TemporaryReplica.withFolder { folder in
            let path = folder.path("field")
            do {
                let old = try folder.createBeforeRoles("field")
                try Self.fill(old)
            }
            let shell = try SQLiteShell.run(path, insert)
            #expect(shell.status == 0, "\(shell.stderr)")
            let content = try Self.content(path)
            #expect(content.contains { $0.hasPrefix("table devices ") }, "the file holds the hub's tables")

            for _ in 0..<2 {
                #expect { try folder.open("field") } throws: { ($0 as? StoreError)?.code == .roleMismatch }
                #expect(try Self.content(path) == content, "a refused file changed")
            }

            let hub = try ReplicaStore.openHub(at: path, options: folder.options)
            #expect(hub.role == .hub)
            #expect(try hub.status().documentsPerCollection.values.reduce(0, +) == 5)
            #expect(try Self.content(path) != content, "the comparison sees the role the hub's opening recorded")
        }
    }

    @Test func aFileIsOpenedInItsOwnRoleOnly() async throws {
        try await TemporaryReplica.withFolder { folder in
            _ = try folder.create("hub")
            _ = try folder.create("field")
            var device = folder.options
            device.role = .device
            // A hub's file opened as a device's (fieldcli, syncd run).
            #expect { try ReplicaStore.open(at: folder.path("hub"), options: device) } throws: {
                ($0 as? StoreError)?.code == .roleMismatch
            }
            // A device's file opened as a hub's (syncd serve --db, the hub's commands).
            #expect { try ReplicaStore.openHub(at: folder.path("field"), options: folder.options) } throws: {
                ($0 as? StoreError)?.code == .roleMismatch
            }
            #expect {
                try SQLiteHubStorage.openOrCreate(path: folder.path("field"), options: folder.options, logger: HubFixture.silentLogger)
            } throws: { ($0 as? StoreError)?.code == .roleMismatch }
            // A device's store handed to the hub's storage.
            let field = try folder.open("field")
            #expect { try SQLiteHubStorage(store: field) } throws: { ($0 as? StoreError)?.code == .roleMismatch }
            // Each still opens in its own role, unchanged.
            #expect(try folder.open("hub").role == .hub)
            #expect(try folder.open("field").role == .device)
            #expect(try Self.tables(try folder.open("field")).isDisjoint(with: ReplicaStore.hubOnlyTables))
        }
    }

    /// What only a hub keeps, asked of a device's replica, is a typed refusal, not a missing table.
    @Test func aDevicesReplicaRefusesTheHubsOperations() async throws {
        try await TemporaryReplica.withReplica { device in
            let refusals: [(String, () throws -> Void)] = [
                ("appendAudit", { _ = try device.appendAudit(actor: AuditEntry.operatorActor, action: .revoked, subject: "x") }),
                ("auditEntries", { _ = try device.auditEntries(after: 0, limit: 1) }),
                ("auditEntryCount", { _ = try device.auditEntryCount() }),
                ("verifyAuditChain", { _ = try device.verifyAuditChain() }),
                ("newestAuditEntry", { _ = try device.newestAuditEntry() }),
                ("pendingSuppressedCounts", { _ = try device.pendingSuppressedCounts() }),
                ("recordWriters", { try device.recordWriters([ReplicaID.random()]) }),
                ("auditVerificationReports", {
                    _ = try device.auditVerificationReports(
                        [VerificationReport(dot: Dot(replica: ReplicaID.random(), counter: 1), reason: .badSignature)],
                        reportedBy: ReplicaID.random(), limit: 0)
                }),
            ]
            for (name, operation) in refusals {
                do {
                    try operation()
                    Issue.record("\(name) did not refuse on a device's replica")
                } catch {
                    #expect((error as? StoreError)?.code == .roleMismatch, "\(name): \(error)")
                }
            }
        }
    }

    /// The hub's migrations share GRDB's table with the replica's: neither side takes the other's
    /// names for a newer Vigil's, and each refuses a newer one of its own.
    @Test(.enabled(if: SQLiteShell.isInstalled, "needs the sqlite3 shell"))
    func eachMigratorCountsItsOwnNamesOnly() async throws {
        try await TemporaryReplica.withFolder { folder in
            _ = try folder.create("hub")
            #expect(try folder.open("hub").role == .hub, "the hub's own migration taken for a newer replica's")
            #expect(try SQLiteHubStorage.openOrCreate(path: folder.path("hub"), options: folder.options, logger: HubFixture.silentLogger).hubID
                == folder.open("hub").replicaID)

            #expect(try SQLiteShell.run(folder.path("hub"), "INSERT INTO grdb_migrations VALUES ('hub-v99-future')").status == 0)
            #expect { try folder.open("hub") } throws: { ($0 as? StoreError)?.code == .notAReplica }

            _ = try folder.create("field")
            #expect(try SQLiteShell.run(folder.path("field"), "INSERT INTO grdb_migrations VALUES ('v99-future')").status == 0)
            #expect { try folder.open("field") } throws: { ($0 as? StoreError)?.code == .notAReplica }
        }
    }
}
