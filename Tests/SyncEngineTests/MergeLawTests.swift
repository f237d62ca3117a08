import Foundation
import PropertyBased
import SyncEngine
import Testing
import TestSupport

/// Merge laws and convergence on seeded causal histories. A failure names its seed; run the same
/// seed again (it is in `propertySeeds`, or pass it to `CausalHistory`) to replay it exactly.
@Suite("Merge laws")
struct MergeLawTests {
    static func history(_ seed: UInt64, replicas: Int = 4, documents: Int = 2, steps: Int = 120) -> CausalHistory {
        var history = CausalHistory(seed: seed, replicaCount: replicas, documentCount: documents)
        history.run(steps: steps)
        return history
    }

    @Test(arguments: propertySeeds)
    func historiesHaveConflictsAndResolutions(seed: UInt64) {
        // Guards the generator: laws checked on histories without concurrency would prove little.
        let history = Self.history(seed)
        let concurrent = history.written.contains { left in
            history.written.contains { right in
                left.key == right.key && left.dot != right.dot && !left.context.contains(right.dot)
                    && !right.context.contains(left.dot)
            }
        }
        let superseding = history.written.contains { version in
            history.written.contains {
                $0.dot != version.dot && $0.key == version.key && version.context.contains($0.dot)
            }
        }
        #expect(concurrent && superseding, "seed \(seed)")
    }

    @Test(arguments: propertySeeds)
    func mergeMatchesTheDefinition(seed: UInt64) {
        let history = Self.history(seed)
        for key in history.keys {
            let versions = history.versions(of: key)
            #expect(DocumentState(merging: versions) == CausalHistory.oracle(versions), "seed \(seed), \(key)")
        }
    }

    @Test(arguments: propertySeeds)
    func mergeIsCommutative(seed: UInt64) {
        var history = Self.history(seed)
        for key in history.keys {
            let versions = history.versions(of: key)
            let expected = DocumentState(merging: versions)
            for _ in 0..<20 {
                let order = versions.shuffled(using: &history.random)
                #expect(DocumentState(merging: order) == expected, "seed \(seed), \(key), order \(order.map(\.dot))")
            }
            #expect(DocumentState(merging: versions.reversed()) == expected, "seed \(seed), \(key)")
        }
    }

    @Test(arguments: propertySeeds)
    func mergeIsIdempotent(seed: UInt64) {
        var history = Self.history(seed)
        for key in history.keys {
            let versions = history.versions(of: key)
            let expected = DocumentState(merging: versions)
            var withDuplicates = versions + versions + versions.filter { _ in Bool.random(using: &history.random) }
            withDuplicates.shuffle(using: &history.random)
            #expect(DocumentState(merging: withDuplicates) == expected, "seed \(seed), \(key)")
            var state = expected
            for version in versions { #expect(state.merge(version) == .alreadyKnown, "seed \(seed), \(version.dot)") }
            #expect(state == expected)
        }
    }

    @Test(arguments: propertySeeds)
    func mergeIsAssociative(seed: UInt64) {
        var history = Self.history(seed)
        for key in history.keys {
            let versions = history.versions(of: key)
            let byDot = Dictionary(uniqueKeysWithValues: versions.map { ($0.dot, $0) })
            let expected = DocumentState(merging: versions)
            for _ in 0..<20 {
                // Three random, possibly overlapping groups that together hold every version.
                var groups: [[Version]] = [[], [], []]
                for version in versions {
                    groups[Int.random(in: 0..<3, using: &history.random)].append(version)
                    if Int.random(in: 0..<4, using: &history.random) == 0 {
                        groups[Int.random(in: 0..<3, using: &history.random)].append(version)
                    }
                }
                let (x, y, z) = (
                    DocumentState(merging: groups[0]), DocumentState(merging: groups[1]),
                    DocumentState(merging: groups[2])
                )
                let left = x.joined(with: y, versions: byDot).joined(with: z, versions: byDot)
                let right = x.joined(with: y.joined(with: z, versions: byDot), versions: byDot)
                #expect(left == right, "seed \(seed), \(key)")
                #expect(left == expected, "seed \(seed), \(key)")
                #expect(
                    x.joined(with: y, versions: byDot) == y.joined(with: x, versions: byDot), "seed \(seed), \(key)")
                #expect(x.joined(with: x, versions: byDot) == x, "seed \(seed), \(key)")
            }
        }
    }

    @Test(arguments: propertySeeds)
    func replicasConvergeAndNoWriteIsLost(seed: UInt64) {
        var history = CausalHistory(seed: seed, replicaCount: 6, documentCount: 3)
        history.run(steps: 400)
        history.deliverEverything()
        let first = history.replicas[0].states
        for replica in history.replicas.dropFirst() {
            #expect(
                replica.states == first,
                "seed \(seed): \(replica.id.short) differs from \(history.replicas[0].id.short)")
        }
        for key in history.keys {
            let versions = history.versions(of: key)
            #expect(first[key] == CausalHistory.oracle(versions), "seed \(seed), \(key)")
            guard let state = first[key] else { continue }
            for version in versions {
                let isSibling = state.siblings.contains(version.dot)
                let coveredByAnother = versions.contains { $0.dot != version.dot && $0.context.contains(version.dot) }
                #expect(
                    isSibling || (state.context.contains(version.dot) && coveredByAnother),
                    "seed \(seed): \(version.dot) of \(key) was lost")
                #expect(isSibling != coveredByAnother, "seed \(seed): \(version.dot) is both a sibling and superseded")
            }
        }
    }

    /// At every moment each replica's state of a document is the definition applied to the
    /// versions it holds: a failing operation list is shrunk to a minimal history.
    @Test(.shrinking) func everyReplicaMatchesTheDefinitionAtEveryStep() async {
        await propertyCheck(count: 200, input: Gen.int(in: 0...99).array(of: 1...40)) { operations in
            var history = CausalHistory(operations: operations)
            for replica in history.replicas {
                for key in history.keys {
                    let held = replica.held.values.filter { $0.key == key }
                    #expect((replica.states[key] ?? DocumentState()) == CausalHistory.oracle(Array(held)))
                }
            }
            history.deliverEverything()
            #expect(Set(history.replicas.map(\.states)).count == 1, "replicas converge")
        }
    }

    @Test(arguments: propertySeeds)
    func partialExchangesNeverRegress(seed: UInt64) {
        // Along the way (not only at the end) a replica's state only grows: its context never
        // shrinks and a dot once superseded never comes back as a sibling.
        var history = CausalHistory(seed: seed, replicaCount: 3, documentCount: 1)
        var previous = history.replicas.map(\.states)
        var superseded = Array(repeating: Set<Dot>(), count: history.replicas.count)
        for _ in 0..<150 {
            history.run(steps: 1)
            for (index, replica) in history.replicas.enumerated() {
                for (key, state) in replica.states {
                    let before = previous[index][key] ?? DocumentState()
                    #expect(
                        [CausalOrder.after, .equal].contains(state.context.compare(before.context)), "seed \(seed)")
                    superseded[index].formUnion(before.siblings.filter { !state.siblings.contains($0) })
                    #expect(superseded[index].isDisjoint(with: state.siblings), "seed \(seed)")
                }
            }
            previous = history.replicas.map(\.states)
        }
    }
}
