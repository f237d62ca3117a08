public import Foundation
public import HubStore
public import SyncEngine

/// What an operator reads of the hub's audit log on the hub machine (`syncd audit`), on the hub's
/// database directly, whichever backend keeps it. On SQLite, signatures are checked against the
/// key in the hub's key file (`<database>.key`), which opening the database requires; on
/// PostgreSQL, against the hub's identity in its schema.
public struct AuditAdministration: Sendable {
    /// The hub's audit log.
    public let log: any HubAuditLog

    public init(log: any HubAuditLog) { self.log = log }

    /// Up to `limit` entries after sequence `after`, oldest first, and whether more follow.
    public func entries(after sequence: Int64, limit: Int) async throws -> (entries: [AuditEntry], more: Bool) {
        let limit = max(1, limit)
        let entries = try await log.entries(after: sequence, limit: limit + 1)
        return (Array(entries.prefix(limit)), entries.count > limit)
    }

    /// Checks the whole log (chain and signatures), and with `head` whether an entry with that
    /// hash is still in it; names the first entry that breaks the chain.
    public func verify(head: Data? = nil) async throws -> AuditVerification { try await log.verify(head: head) }

    /// The newest entry, to keep its hash elsewhere, and whether it carries the hub key's valid
    /// signature; nil when the log is empty.
    public func head() async throws -> (entry: AuditEntry, signed: Bool)? {
        guard let entry = try await log.newest() else { return nil }
        return (entry, log.isSignedByHub(entry))
    }

    /// Counts of entries beyond a device's hourly limit whose `audit.suppressed` entry is not
    /// written yet (it is written with the first entry after the hour), by device and kind.
    public func pendingSuppressedCounts() async throws -> [String: [String: Int]] {
        try await log.pendingSuppressedCounts()
    }
}
