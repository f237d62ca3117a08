import GRDB

extension ReplicaStore {
    /// What a replica file is: a field device's replica, or a hub's database. It is recorded in the
    /// file (migration `v23-replica-role`), and a file is opened only in its own role, so that a
    /// device's file never holds the hub's tables and a hub's never passes for a device's.
    public enum Role: String, Sendable, Hashable {
        /// A field device's replica (`fieldcli`, `syncd run`): no hub tables.
        case device
        /// A hub's database (`syncd serve` and the hub's other commands): the replica's tables and
        /// the hub's (``ReplicaStore/hubOnlyTables``), whose later changes are the hub's own
        /// migrations (named `hub-…`, in HubStoreSQLite).
        case hub
    }

    /// The tables only a hub's file holds (made by migrations v2 to v17, before roles were
    /// recorded), children before the tables they refer to. A device's file loses them at
    /// `v23-replica-role`: no device-side code reads or writes them.
    public static let hubOnlyTables = [
        "devices", "enrollment_codes", "device_incarnations", "grant_sets", "foreign_quarantine",
        "audit_signatures", "audit_suppressed", "audit_log", "hub_writers", "attachment_uploads",
        "operator_informant_keys", "operator_keys", "operator_sessions", "operators",
    ]

    /// Refuses a hub-only operation (the audit log, writer ids, verification reports) on a
    /// device's replica, which has none of the hub's tables.
    package func requireHub() throws {
        guard role == .hub else {
            throw StoreError(.roleMismatch, "\(path) is a device's replica, which keeps none of a hub's records.")
        }
    }

    /// The role recorded in the file, checked against the opener's `role`.
    static func checkRole(_ db: Database, _ role: Role, path: String) throws {
        guard let text = try String.fetchOne(db, sql: "SELECT role FROM replica"), let recorded = Role(rawValue: text) else {
            throw StoreError(.notAReplica, "\(path) records no role (device or hub); it is damaged or was edited.")
        }
        guard recorded == role else {
            throw StoreError(
                .roleMismatch,
                recorded == .hub
                    ? "\(path) is a hub's database, not a device's replica; nothing was changed."
                    : "\(path) is a device's replica, not a hub's database; nothing was changed.")
        }
    }
}

extension Schema {
    /// The prefix of the hub's own migrations (HubStore's `HubSchema`), recorded in the same GRDB
    /// table as the replica's: the replica's migrator ignores them, and the hub's knows only them.
    static let hubMigrationPrefix = "hub-"

    /// Whether `db` records a migration of the replica's that `migrator` does not know (the file
    /// was written by a newer Vigil); the hub's migrations (``hubMigrationPrefix``) are not the
    /// replica's and do not count.
    static func hasBeenSuperseded(_ db: Database, by migrator: DatabaseMigrator) throws -> Bool {
        let known = Set(migrator.migrations)
        return try migrator.appliedIdentifiers(db).contains {
            !$0.hasPrefix(hubMigrationPrefix) && !known.contains($0)
        }
    }

    /// `v23-replica-role`: the file's role, taken from the opener of a file from before roles; a
    /// device's file then loses the hub's tables, which are empty there. A file holding rows in any
    /// of them is a hub's: opened as a device's, the migration fails and the file stays as it was.
    /// Never edited once shipped.
    static func migrateRole(_ db: Database, role: ReplicaStore.Role, path: String) throws {
        try db.execute(sql: "ALTER TABLE replica ADD COLUMN role TEXT CHECK (role IN ('device', 'hub'))")
        try db.execute(sql: "UPDATE replica SET role = ?", arguments: [role.rawValue])
        guard role == .device else { return }
        for table in ReplicaStore.hubOnlyTables where try db.tableExists(table) {
            if try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM \(table))") == true {
                throw StoreError(
                    .roleMismatch,
                    "\(path) holds a hub's rows (in its table \(table)), so it is not opened as a device's replica; nothing was changed.")
            }
        }
        for table in ReplicaStore.hubOnlyTables {
            try db.execute(sql: "DROP TABLE IF EXISTS \(table)")
        }
    }
}
