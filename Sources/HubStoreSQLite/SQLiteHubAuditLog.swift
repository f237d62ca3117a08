public import Foundation
public import HubStore
public import ReplicaStore
public import SyncEngine

/// The audit log in the hub's SQLite replica (tables `audit_log`, `audit_signatures`,
/// `audit_suppressed`), signed with the key in the replica's key file.
public struct SQLiteHubAuditLog: HubAuditLog {
    public let store: ReplicaStore

    public init(store: ReplicaStore) { self.store = store }

    @discardableResult
    public func append(_ events: [AuditEvent]) async throws -> [AuditEntry] {
        guard !events.isEmpty else { return [] }
        let store = self.store
        return try await offload { try store.appendAudit(events) }
    }

    @discardableResult
    public func appendWithinHourlyLimit(_ event: AuditEvent, limit: Int) async throws -> Bool {
        let store = self.store
        return try await offload {
            let now = store.now()
            return try store.write { db in
                try ReplicaStore.appendDeviceAudit(
                    db, device: event.actor, action: event.action, subject: event.subject, detail: event.detail,
                    at: now, limit: limit)
            }
        }
    }

    public func entries(after sequence: Int64, limit: Int) async throws -> [AuditEntry] {
        let store = self.store
        return try await offload { try store.auditEntries(after: sequence, limit: limit) }
    }

    public func verify(head: Data?) async throws -> AuditVerification {
        let store = self.store
        return try await offload { try store.verifyAuditChain(head: head) }
    }

    public func newest() async throws -> AuditEntry? {
        let store = self.store
        return try await offload { try store.newestAuditEntry() }
    }

    /// Read by the replica's index on the log's actor and action.
    public func entries(
        before: Int64?, actor: String?, action: String?, limit: Int
    ) async throws -> (entries: [AuditEntry], nextBefore: Int64?) {
        let store = self.store
        return try await offload { try store.auditEntries(before: before, actor: actor, action: action, limit: limit) }
    }

    public func isSignedByHub(_ entry: AuditEntry) -> Bool { store.isSignedByThisReplica(entry) }

    public func pendingSuppressedCounts() async throws -> [String: [String: Int]] {
        let store = self.store
        return try await offload { try store.pendingSuppressedCounts() }
    }
}

extension ReplicaStore {
    /// Appends `events` in one transaction, at the store's clock; returns them signed.
    func appendAudit(_ events: [AuditEvent]) throws -> [AuditEntry] {
        let now = self.now()
        let key = self.key
        return try write { db in
            // Signed here as the transaction will sign them (Ed25519 signatures are deterministic).
            try events.map { event in
                try Self.appendAudit(
                    db, actor: event.actor, action: event.action, subject: event.subject, detail: event.detail, at: now
                ).signed(with: key)
            }
        }
    }
}
