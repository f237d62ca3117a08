import GRDB
package import ReplicaStore
import SyncEngine

/// What the hub adds to the writes of its SQLite file (``ReplicaStore/Options/inHubRole``): every
/// transaction signs the audit entries it appended before it commits, and a resolution written
/// with `ReplicaStore.write(_:)` on a hub with devices enrolled is audited as an operator's.
struct SQLiteHubWriteHooks: HubWriteHooks {
    func beforeCommit(_ db: Database, key: DeviceKey) throws {
        try ReplicaStore.signNewAuditEntries(db, key: key)
    }

    func resolutionWritten(_ db: Database, _ version: Version, at now: UInt64) throws {
        guard try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM devices)") == true else { return }
        try ReplicaStore.appendAudit(
            db, actor: AuditEntry.operatorActor, action: .resolved, subject: version.key.description,
            detail: [
                "dot": version.dot.description,
                "how": version.isTombstone ? "deleted by an operator" : "resolved by an operator",
            ],
            at: now)
    }
}

extension ReplicaStore.Options {
    /// These options in the hub's role, with the hub's additions to the file's writes
    /// (``SQLiteHubWriteHooks``): how every opener of a hub's file opens it.
    package var inHubRole: ReplicaStore.Options {
        var options = self
        options.role = .hub
        options.hubHooks = SQLiteHubWriteHooks()
        return options
    }
}
