import Foundation
import HubStore
import HubStoreSQLite
@testable import HubStorePostgres
import SyncEngine
import Testing

/// The hub's field-by-field merges are audited in the push that made the conflict, on every
/// backend: one `document.resolved` entry naming the document, the merge's dot and the siblings.
@Suite(.serialized)
struct AuditLogMergeTests {
    typealias F = MergeFixtures

    /// The audit log of the first hub process of `hubs`.
    static func auditLog(of hubs: MergeHubs) throws -> any HubAuditLog {
        if let sqlite = hubs.hub as? SQLiteHubStorage { return SQLiteHubAuditLog(store: sqlite.store) }
        return PostgresAuditLog(tables: try #require(hubs.hub as? PostgresHubStorage).tables)
    }

    /// Schedule: A writes a situation and edits one field, B edits another field of what both saw;
    /// the hub merges them with B's push. Before the PostgreSQL hub had an audit log, the merge
    /// was only logged there, and no entry named it.
    @Test(arguments: StorageBackend.enabled)
    func aMergeIsAuditedWithThePushThatMadeTheConflict(_ backend: StorageBackend) async throws {
        try await MergeHubs.with(backend) { hubs in
            let (a, b) = (ReplicaID.random(), ReplicaID.random())
            let (report, _, editA, editB) = try await HubStorageMergeTests.concurrentEdits(
                hubs, a, b, editA: [F.critical], editB: [F.retitled])
            #expect(report.merged == 1)
            let merge = try #require(try await hubs.feed().last)
            let log = try Self.auditLog(of: hubs)
            let entries = try await log.entries(after: 0, limit: 100)
            #expect(entries.map(\.action) == [.resolved])
            let entry = try #require(entries.first)
            #expect(entry.actor == "hub" && entry.subject == editB.key.description)
            #expect(entry.detail["dot"] == merge.dot.description)
            #expect(
                Set((entry.detail["siblings"] ?? "").split(separator: " ").map(String.init))
                    == Set([editA.dot, editB.dot].map(\.description)))
            #expect(log.isSignedByHub(entry))
            guard case .intact(let position) = try await log.verify(head: nil).verdict else {
                Issue.record("the chain does not verify")
                return
            }
            #expect(position.count == 1)
        }
    }
}
