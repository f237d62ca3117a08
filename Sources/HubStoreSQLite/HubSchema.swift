import Foundation
import GRDB
import HubStore
public import ReplicaStore

/// The hub's own migrations, run on a hub's SQLite file only (after the replica's, which every
/// replica file runs): a change to the hub's tables comes here, never as a replica migration, so
/// that a device's file never carries the hub's schema and the hub's can change without touching
/// device files.
///
/// Their names start with `hub-` and are recorded in the same GRDB table as the replica's
/// (`grdb_migrations`): GRDB applies a migrator's own migrations whatever other names the table
/// holds, and each side's check for a file written by a newer Vigil counts only its own names. A
/// migration is never edited once it has shipped; changes come as new ones appended here.
package enum HubSchema {
    /// The prefix every hub migration's name starts with.
    static let prefix = "hub-"

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("hub-v1-hub-tables") { db in
            // The hub's tables are the replica migrations' v2 to v17 (from before the hub had
            // migrations of its own), which a hub's file keeps; this migration records that they
            // are there, so that the hub's next migration may change them.
            for table in ReplicaStore.hubOnlyTables where try !db.tableExists(table) {
                throw StoreError(.notAReplica, "The hub's table \(table) is missing; the file is damaged or was edited.")
            }
        }
        migrator.registerMigration("hub-v2-versions-by-author") { db in
            // Which authors a device may learn the certificates of: whether an origin wrote a
            // version in good standing within a read scope is one probe of this index
            // (ReplicaStore.authors(among:within:)), not a walk over the origin's versions.
            try db.execute(sql: """
                CREATE INDEX versions_by_author ON versions (origin, collection, partition)
                    WHERE set_aside_reason IS NULL
                """)
        }
        return migrator
    }

    /// Brings the hub's tables of `store` (a hub's file) up to date; refuses a file whose hub
    /// migrations a newer Vigil wrote, and a device's file.
    package static func migrate(_ store: ReplicaStore) throws {
        guard store.role == .hub else {
            throw StoreError(.roleMismatch, "\(store.path) is a device's replica, not a hub's database; nothing was changed.")
        }
        let migrator = Self.migrator
        try StoreError.translating(path: store.path) {
            let known = Set(migrator.migrations)
            let superseded = try store.database.read { db in
                try migrator.appliedIdentifiers(db).contains { $0.hasPrefix(prefix) && !known.contains($0) }
            }
            if superseded {
                throw StoreError(.notAReplica, "\(store.path) was written by a newer version of Vigil's hub; upgrade this program to use it.")
            }
            if try !store.database.read({ try migrator.hasCompletedMigrations($0) }) {
                try migrator.migrate(store.database)
            }
        }
    }
}

extension ReplicaStore {
    /// Opens the hub's replica file at `path` in the hub's role (whatever `options.role` says) and
    /// runs the hub's own migrations: every hub-side opener goes through here (or ``createHub(at:options:)``).
    public static func openHub(at path: String, options: Options = Options()) throws -> ReplicaStore {
        let store = try ReplicaStore.open(at: path, options: options.inHubRole)
        try HubSchema.migrate(store)
        return store
    }

    /// Creates a new hub's replica file at `path` with the hub's migrations run.
    public static func createHub(at path: String, options: Options = Options()) throws -> ReplicaStore {
        let store = try ReplicaStore.create(at: path, options: options.inHubRole)
        try HubSchema.migrate(store)
        return store
    }
}
