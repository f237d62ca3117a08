import Foundation
import ReplicaStore
import SyncClient
import SyncEngine
import Testing
import TestSupport

/// A sync over a link paid per megabyte with a byte budget (issue 13, Budgets).
@Suite("Sync budget")
struct SyncBudgetTests {
    static func key(_ id: String) -> DocumentKey { DocumentKey(collection: CollectionName("notes")!, id: DocumentID(id)!) }

    /// A body that gzip cannot shrink much, so the budget is spent on real bytes.
    static func body(_ index: Int) -> Data {
        var generator = SystemRandomNumberGenerator()
        let text = String((0..<1_500).map { _ in "0123456789abcdef".randomElement(using: &generator)! })
        return Data(#"{"n":\#(index),"text":"\#(text)"}"#.utf8)
    }

    static func sync(_ store: ReplicaStore, _ hub: HubFixture, _ token: String, budget: Int?) async throws -> SyncSummary {
        try await Synchronizer(
            store: store, transport: HTTPSyncTransport(configuration: .init(hub: hub.url, token: token, timeoutSeconds: 30)),
            peer: HubCredentials.peerName(for: hub.url),
            configuration: .init(pageLimits: PageLimits(versions: 20), pushVersions: 20, retry: .never, byteBudget: budget),
            logger: silentLogger
        ).run()
    }

    /// Schedule: an observer back from days offline holds 60 reports (about 1.5 KB each) and syncs
    /// with a budget of 30 KB, then again without one.
    @Test("a sync with a byte budget stops once it is spent, and the next sync sends the rest")
    func budgetStopsAndTheNextSyncGoesOn() async throws {
        try await HubFixture.withHub { hub in
            try await TemporaryReplica.withReplicas(1) { replicas in
                let device = replicas[0]
                let token = try await hub.enroll(device)
                for index in 0..<60 { try device.write(WriteIntent(key: Self.key("n\(index)"), body: Self.body(index))) }
                let budget = 30_000
                let first = try await Self.sync(device, hub, token, budget: budget)
                #expect(first.budgetSpent)
                // A round is sized to half of what remains each way; at least one version goes.
                #expect(first.bytesSent + first.bytesReceived <= budget + 4_096, "\(first.bytesSent) + \(first.bytesReceived)")
                let held = try hub.store.status().versions
                #expect(held > 0 && held < 60, "\(held) versions at the hub")

                let second = try await Self.sync(device, hub, token, budget: nil)
                #expect(!second.budgetSpent)
                #expect(try hub.store.status().versions == 60)
                #expect(try await Self.sync(device, hub, token, budget: 1).isQuiet, "nothing left: no budget is spent")
            }
        }
    }
}
