package import GRDB
package import SyncEngine

/// What a hub's file adds to the replica's own writes. The replica holds no hub logic: the hub's
/// SQLite backend (HubStoreSQLite) supplies these in ``ReplicaStore/Options/hubHooks`` when it
/// opens a hub's file, and a store of the device's role never runs them.
package protocol HubWriteHooks: Sendable {
    /// Runs last in every write transaction of the file, before it commits (the hub signs the
    /// audit entries the transaction appended, so that none commits unsigned).
    func beforeCommit(_ db: Database, key: DeviceKey) throws

    /// Runs in the transaction of a resolution written with ``ReplicaStore/write(_:)``, once the
    /// version is written at `now` (the hub audits it).
    func resolutionWritten(_ db: Database, _ version: Version, at now: UInt64) throws
}
