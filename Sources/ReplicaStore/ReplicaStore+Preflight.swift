import GRDB

extension ReplicaStore {
    /// Checks, through a read-only connection, that the file at `path` carries Vigil's
    /// application id, so that opening another program's SQLite file (or a damaged one) fails
    /// without touching it: the ``DatabasePool`` that ``open(at:options:)`` makes would switch it
    /// to WAL mode.
    static func checkIsReplica(at path: String, options: Options) throws {
        var configuration = configuration(options)
        configuration.readonly = true
        try StoreError.translating(path: path) {
            let applicationID = try DatabaseQueue(path: path, configuration: configuration).read { db in
                try Int32.fetchOne(db, sql: "PRAGMA application_id") ?? 0
            }
            guard applicationID == Schema.applicationID else {
                throw StoreError(.notAReplica, "\(path) is not a Vigil replica (it may be another program's database, or damaged); point --db at a replica or create one with `fieldcli init`.")
            }
        }
    }
}
