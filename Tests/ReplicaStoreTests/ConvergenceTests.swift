import Foundation
import ReplicaStore
import SyncEngine
import Testing
import TestSupport

/// Replicas on SQLite exchanging small pages of what the other lacks, in random pairs, with
/// stale re-deliveries: they end identical, equal to the pure merge, and lose no write.
@Suite("Store convergence")
struct ConvergenceTests {
    @Test(arguments: propertySeeds.prefix(4))
    func pagedExchangesConvergeWithoutLosingAWrite(seed: UInt64) async throws {
        try await TemporaryReplica.withFolder { folder in
            var random = SeededGenerator(seed: seed)
            let stores = try folder.create(count: 4)
            var written: [Version] = []
            var delivered: [(receiver: Int, versions: [Version])] = []

            for _ in 0..<150 {
                let index = Int.random(in: 0..<4, using: &random)
                let store = stores[index]
                switch Int.random(in: 0..<10, using: &random) {
                case 0..<5:
                    let key = StoreFixtures.key("doc-\(Int.random(in: 0..<3, using: &random))")
                    let current = try store.document(key)
                    let body =
                        Int.random(in: 0..<8, using: &random) == 0 && current != nil
                        ? nil : StoreFixtures.body("\(written.count)")
                    written.append(
                        try store.write(
                            WriteIntent(key: key, body: body, isResolution: current?.isConflicted ?? false)))
                case 5..<9:
                    let other = stores[Int.random(in: 0..<4, using: &random)]
                    guard other.replicaID != store.replicaID else { continue }
                    let page = try other.versions(
                        missingFrom: store.knowledge(), limit: Int.random(in: 1...4, using: &random),
                        maxBytes: Int.random(in: 1...2_000, using: &random))
                    try store.apply(page.versions, from: other.replicaID)
                    delivered.append((index, page.versions))
                default:
                    // A page delivered again to the replica that got it (a retry after a lost answer).
                    // Knowledge is contiguous only because pages go to the replica they were made for.
                    guard let old = delivered.randomElement(using: &random) else { continue }
                    let report = try stores[old.receiver].apply(old.versions.shuffled(using: &random), from: nil)
                    #expect(report.stored == 0 && report.forks.isEmpty, "seed \(seed)")
                }
            }

            // Anti-entropy until nothing moves.
            var moved = true
            var rounds = 0
            while moved && rounds < 50 {
                moved = false
                rounds += 1
                for to in stores {
                    for from in stores where from.replicaID != to.replicaID {
                        let page = try from.versions(missingFrom: to.knowledge(), limit: 3, maxBytes: 500)
                        if !page.versions.isEmpty {
                            try to.apply(page.versions, from: from.replicaID)
                            moved = true
                        }
                    }
                }
            }
            #expect(!moved, "seed \(seed): exchanges did not settle")

            let views = try stores.map { try StoreFixtures.view($0) }
            for (index, view) in views.enumerated().dropFirst() {
                #expect(view == views[0], "seed \(seed): replica \(index) differs from replica 0")
            }
            var counters: VersionVector = [:]
            for store in stores { counters[store.replicaID] = try store.counter() }
            #expect(views[0].knowledge == counters.merged(with: views[0].knowledge), "seed \(seed)")
            #expect(views[0].knowledge == VersionVector(dots: written.map(\.dot)), "seed \(seed)")

            for document in views[0].documents {
                let versions = written.filter { $0.key == document.key }
                #expect(document.state == DocumentState(merging: versions), "seed \(seed), \(document.key)")
                for version in versions {
                    let isSibling = document.state.siblings.contains(version.dot)
                    let covered = versions.contains { $0.dot != version.dot && $0.context.contains(version.dot) }
                    #expect(
                        isSibling || (covered && document.state.context.contains(version.dot)),
                        "seed \(seed): \(version.dot) of \(document.key) was lost")
                }
                #expect(try stores[0].history(of: document.key).count == versions.count, "seed \(seed)")
            }
            #expect(views[0].documents.count == Set(written.map(\.key)).count, "seed \(seed)")
            for store in stores {
                #expect(try store.status().versions == written.count, "seed \(seed): every replica holds every version")
                #expect(try store.integrityProblems().isEmpty)
            }
        }
    }
}
