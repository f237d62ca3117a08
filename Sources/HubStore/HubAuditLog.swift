public import Foundation
public import SyncEngine

/// One entry to append to a hub's audit log: who did what to which subject, with further facts.
/// The log gives it its sequence, time, chain hash and signature.
public struct AuditEvent: Sendable, Hashable {
    /// `operator`, `hub`, an operator of the console, or a device's replica id (hex).
    public var actor: String
    public var action: AuditAction
    public var subject: String
    public var detail: [String: String]

    public init(actor: String, action: AuditAction, subject: String, detail: [String: String] = [:]) {
        self.actor = actor
        self.action = action
        self.subject = subject
        self.detail = detail
    }

    /// An audit entry's detail for a quarantined version: why, and which document it was for
    /// (both backends write it so).
    public static func quarantineDetail(_ version: Version, reason: SetAsideReason) -> [String: String] {
        ["code": reason.code.rawValue, "reason": reason.detail, "collection": version.collection.rawValue, "document": version.documentID.rawValue]
    }
}

/// How many audit entries, and foreign-quarantine rows, one device's syncs may add to a hub per
/// hour when the hub's configuration does not say: both backends' default.
public enum DeviceEntryLimit {
    public static let perHourByDefault = 1_000
}

/// A hub's append-only audit log, whatever keeps it: one hash chain (each entry's hash covers the
/// one before it, ``AuditEntry/chainHash(format:previousHash:sequence:at:actor:action:subject:detail:)``),
/// every entry signed with the hub's key. The SQLite hub keeps it in its replica
/// (`SQLiteHubAuditLog`), the PostgreSQL hub in its schema (`PostgresAuditLog`); both pass the
/// same conformance suite.
public protocol HubAuditLog: Sendable {
    /// Appends `events`, in their order, in one transaction of their own, at the log's clock, as
    /// the next entries of the chain, signed. Returns the entries written.
    @discardableResult
    func append(_ events: [AuditEvent]) async throws -> [AuditEntry]

    /// Appends `event`, which a device caused (its ``AuditEvent/actor`` is the device's replica
    /// id, hex), unless that device has written `limit` entries this hour (0: no limit); beyond it
    /// the entry is counted, one `audit.limit-reached` entry says so at once, and one
    /// `audit.suppressed` entry with the counts comes with the first entry after the hour.
    /// Returns whether the entry was written.
    @discardableResult
    func appendWithinHourlyLimit(_ event: AuditEvent, limit: Int) async throws -> Bool

    /// Up to `limit` entries after sequence `after`, oldest first; throws when one cannot be read.
    func entries(after sequence: Int64, limit: Int) async throws -> [AuditEntry]

    /// Checks the whole log, page by page: its chain and every signed entry's signature against
    /// the hub's key; with `head` (a hash kept elsewhere), also whether an entry with it is there.
    func verify(head: Data?) async throws -> AuditVerification

    /// The newest entry, its signature not checked; nil when the log is empty.
    func newest() async throws -> AuditEntry?

    /// Up to `limit` entries (1 to 500) before sequence `before` (nil: from the newest), newest
    /// first, of one actor and one action when given, and the sequence the next page starts before
    /// (nil on the last page). The SQLite hub reads them by its index; a log without one has the
    /// default: read backwards a step at a time, at most 5,000 entries a page (the next page goes
    /// on from where it stopped).
    func entries(
        before: Int64?, actor: String?, action: String?, limit: Int
    ) async throws -> (entries: [AuditEntry], nextBefore: Int64?)

    /// Whether `entry` carries the hub key's valid signature.
    func isSignedByHub(_ entry: AuditEntry) -> Bool

    /// The counts of entries beyond a device's hourly limit whose `audit.suppressed` entry is not
    /// written yet, by device and kind.
    func pendingSuppressedCounts() async throws -> [String: [String: Int]]
}

/// How many entries one filtered page reads at most on a log without a filtered index, when the
/// filter matches few of them.
private let auditScanLimit: Int64 = 5_000

extension HubAuditLog {
    public func entries(
        before: Int64?, actor: String?, action: String?, limit: Int
    ) async throws -> (entries: [AuditEntry], nextBefore: Int64?) {
        let limit = max(1, min(limit, 500))
        // No entry comes before the first; `before` comes from a request (Int64.min too), and one
        // past the newest entry starts from the newest.
        if let before, before <= 1 { return ([], nil) }
        var end = try await newest()?.sequence ?? 0
        if let before { end = min(end, before - 1) }
        let stopAt = max(0, end - auditScanLimit)
        var found: [AuditEntry] = []
        while end > stopAt {
            let start = max(stopAt, end - 200)
            let step = try await entries(after: start, limit: Int(end - start))
            for entry in step.reversed() where entry.sequence <= end {
                guard (actor.map { entry.actor == $0 } ?? true), (action.map { entry.action.rawValue == $0 } ?? true) else {
                    continue
                }
                found.append(entry)
                if found.count == limit { return (found, entry.sequence > 1 ? entry.sequence : nil) }
            }
            end = start
        }
        return (found, end > 0 ? end + 1 : nil)
    }
}
