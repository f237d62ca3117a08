import GRDB

extension ReplicaStore {
    /// Checks, through a read-only connection, that the file at `path` carries Vigil's
    /// application id, so that opening another program's SQLite file (or a damaged one) fails
    /// without touching it: the ``DatabasePool`` that ``open(at:options:)`` makes would switch it
    /// to WAL mode. A file that records a role other than `options.role` is refused here too,
    /// before anyone is asked for an encrypted replica's passphrase.
    static func checkIsReplica(at path: String, options: Options) throws {
        var configuration = configuration(options)
        configuration.readonly = true
        try StoreError.translating(path: path) {
            let applicationID = try DatabaseQueue(path: path, configuration: configuration).read { db in
                let applicationID = try Int32.fetchOne(db, sql: "PRAGMA application_id") ?? 0
                if applicationID == Schema.applicationID, try db.tableExists("replica"),
                    try db.columns(in: "replica").contains(where: { $0.name == "role" })
                {
                    try checkRole(db, options.role, path: path)
                }
                return applicationID
            }
            guard applicationID == Schema.applicationID else {
                throw StoreError(.notAReplica, "\(path) is not a Vigil replica (it may be another program's database, or damaged).")
            }
        }
    }
}
