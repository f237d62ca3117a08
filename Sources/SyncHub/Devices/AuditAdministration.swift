public import Foundation
public import ReplicaStore
public import SyncEngine

/// What an operator reads of the hub's audit log on the hub machine (`syncd audit`), on the hub's
/// database directly. Signatures are checked against the key in the hub's key file
/// (`<database>.key`), which opening the database requires.
public struct AuditAdministration: Sendable {
    /// The hub's replica.
    public let store: ReplicaStore

    public init(store: ReplicaStore) { self.store = store }

    /// Opens the hub's database; a missing one is an error (an audit never creates a hub).
    public static func open(databasePath: String) throws -> AuditAdministration {
        AuditAdministration(store: try ReplicaStore.open(at: databasePath))
    }

    /// Up to `limit` entries after sequence `after`, oldest first, and whether more follow.
    public func entries(after sequence: Int64, limit: Int) throws -> (entries: [AuditEntry], more: Bool) {
        let limit = max(1, limit)
        let entries = try store.auditEntries(after: sequence, limit: limit + 1)
        return (Array(entries.prefix(limit)), entries.count > limit)
    }

    /// Checks the whole log (chain and signatures), and with `head` whether an entry with that
    /// hash is still in it; names the first entry that breaks the chain.
    public func verify(head: Data? = nil) throws -> AuditVerification { try store.verifyAuditChain(head: head) }

    /// The newest entry, to keep its hash elsewhere, and whether it carries the hub key's valid
    /// signature; nil when the log is empty.
    public func head() throws -> (entry: AuditEntry, signed: Bool)? {
        guard let entry = try store.newestAuditEntry() else { return nil }
        return (entry, store.isSignedByThisReplica(entry))
    }

    /// Counts of entries beyond a device's hourly limit whose `audit.suppressed` entry is not
    /// written yet (it is written with the first entry after the hour), by device and kind.
    public func pendingSuppressedCounts() throws -> [String: [String: Int]] { try store.pendingSuppressedCounts() }
}
