import GRDB
public import HubStore
public import ReplicaStore
public import SyncEngine

extension ReplicaStore {
    /// Replaces the read scope, the write scope, or both (nil keeps one) of the active device with
    /// this replica id (hex) or, failing that, this name, in one transaction with its audit entry.
    /// The device's next pull answers under them: a widened read scope delivers the documents
    /// newly in scope, a narrowed one makes the device forget the others.
    public func setGrants(
        read readScope: Scope?, write writeScope: Scope?, ofDevice nameOrID: String,
        actor: String = AuditEntry.operatorActor
    ) throws -> GrantChangeOutcome {
        try write { db in
            let records = try Self.activeDevices(db, nameOrID)
            guard var record = records.first else { return .notFound }
            guard records.count == 1 else { return .ambiguous(records) }
            let previous = record.grants
            let grants = AccessGrants(read: readScope ?? previous.read, write: writeScope ?? previous.write)
            try Self.rememberGrants(db, previous)
            try Self.rememberGrants(db, grants)
            try db.execute(
                sql: "UPDATE devices SET read_scope = ?, write_scope = ? WHERE replica_id = ?",
                arguments: [grants.read.text, grants.write.text, record.replicaID.hex])
            try Self.appendAudit(
                db, actor: actor, action: .scopesChanged, subject: record.name,
                detail: [
                    "replica": record.replicaID.hex, "readBefore": previous.read.text, "writeBefore": previous.write.text,
                    "read": grants.read.text, "write": grants.write.text,
                ],
                at: options.now())
            record.grants = grants
            return .changed(try Self.withIncarnations(db, record), previous: previous)
        }
    }

    /// The grants of the devices that wrote as `origins` (enrolled ids and incarnations, active or
    /// revoked); origins of no enrolled device (the hub itself) are absent.
    public func deviceGrants(of origins: Set<ReplicaID>) throws -> [ReplicaID: AccessGrants] {
        guard !origins.isEmpty else { return [:] }
        return try read { db in
            let statement = try db.cachedStatement(sql: """
                SELECT read_scope, write_scope FROM devices WHERE replica_id = ?
                UNION ALL
                SELECT d.read_scope, d.write_scope FROM device_incarnations i JOIN devices d ON d.replica_id = i.device_id
                WHERE i.replica_id = ?
                LIMIT 1
                """)
            var grants: [ReplicaID: AccessGrants] = [:]
            for origin in origins {
                if let row = try Row.fetchOne(statement, arguments: [origin.hex, origin.hex]) {
                    grants[origin] = AccessGrants(
                        read: Scope(text: row[0]) ?? .nothing, write: Scope(text: row[1]) ?? .nothing)
                }
            }
            return grants
        }
    }

    /// Remembers `grants` under their fingerprint, so that a checkpoint carrying it can later be
    /// read back as the grants it was made under. Idempotent.
    static func rememberGrants(_ db: Database, _ grants: AccessGrants) throws {
        try db.execute(
            sql: "INSERT OR IGNORE INTO grant_sets (fingerprint, read_scope, write_scope) VALUES (?, ?, ?)",
            arguments: [grants.fingerprint, grants.read.text, grants.write.text])
    }

    /// The grants remembered under `fingerprint`; nil when none are.
    public func grants(fingerprint: String) throws -> AccessGrants? {
        if fingerprint == AccessGrants.everything.fingerprint { return .everything }
        return try read { db in
            guard let row = try Row.fetchOne(
                db, sql: "SELECT read_scope, write_scope FROM grant_sets WHERE fingerprint = ?", arguments: [fingerprint]),
                let read = Scope(text: row[0]), let write = Scope(text: row[1])
            else { return nil }
            return AccessGrants(read: read, write: write)
        }
    }
}
