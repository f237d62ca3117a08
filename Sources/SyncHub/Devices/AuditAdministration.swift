public import ReplicaStore
public import SyncEngine

/// What an operator reads of the hub's audit log on the hub machine (`syncd audit`), on the hub's
/// database directly.
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

    /// Checks the whole chain; names the first entry that breaks it.
    public func verify() throws -> AuditChainVerdict { try store.verifyAuditChain() }
}
