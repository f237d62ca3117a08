import Foundation
import SyncEngine
import Testing
import TestSupport

/// Causal plausibility, causal apply order and causally closed pushes, on seeded causal histories.
@Suite("Causal plausibility")
struct CausalPlausibilityTests {
    let a = ReplicaID(String(repeating: "a", count: 32))!
    let b = ReplicaID(String(repeating: "b", count: 32))!

    static func version(_ origin: ReplicaID, _ counter: UInt64, _ context: VersionVector = [:]) -> Version {
        Version(
            dot: Dot(replica: origin, counter: counter), collection: CollectionName("notes")!, documentID: DocumentID("d")!,
            partition: .default, context: context, body: Data("{}".utf8), timestamp: .zero)
    }

    @Test("a context is plausible when what it names is held or arrives with it, and its own entry is below its counter")
    func plausibility() {
        let check = CausalPlausibility(held: [a: 3], batch: [Self.version(b, 1), Self.version(b, 2)])
        #expect(check.problem(of: Self.version(a, 4, [a: 3, b: 2])) == nil)
        #expect(check.problem(of: Self.version(a, 4, [a: 4])) == .init(origin: a, claimed: 4, limit: 3))
        #expect(check.problem(of: Self.version(a, 4, [b: 3])) == .init(origin: b, claimed: 3, limit: 2))
        #expect(check.problem(of: Self.version(a, 4, [b: Dot.maxCounter]))?.origin == b)
    }

    @Test("every version of a seeded history is plausible to a receiver that got it after what it depends on", arguments: propertySeeds)
    func honestHistoriesArePlausible(seed: UInt64) {
        var history = CausalHistory(seed: seed, replicaCount: 4, documentCount: 3)
        history.run(steps: 150)
        var held = VersionVector()
        var generator = SeededGenerator(seed: seed)
        for version in CausalPlausibility.causalOrder(history.written.shuffled(using: &generator)) {
            let problem = CausalPlausibility(held: held, batch: [version]).problem(of: version)
            #expect(problem == nil, "seed \(seed), \(version.dot)")
            held.add(version.dot)
        }
    }

    @Test("the causal order puts each version after what its context names and its origin's earlier ones, whatever the input order", arguments: propertySeeds)
    func causalOrderRespectsDependencies(seed: UInt64) {
        var history = CausalHistory(seed: seed, replicaCount: 4, documentCount: 3)
        history.run(steps: 150)
        var generator = SeededGenerator(seed: seed)
        let ordered = CausalPlausibility.causalOrder(history.written.shuffled(using: &generator))
        #expect(ordered == CausalPlausibility.causalOrder(history.written), "deterministic, seed \(seed)")
        #expect(Set(ordered.map(\.dot)) == Set(history.written.map(\.dot)))
        var placed = VersionVector()
        for version in ordered {
            var reach = placed
            reach.add(Dot(replica: version.dot.replica, counter: version.dot.counter - 1))
            #expect(reach.dominates(version.context), "seed \(seed), \(version.dot) before what it names")
            #expect(placed[version.dot.replica] == version.dot.counter - 1, "seed \(seed), \(version.dot) out of its origin's order")
            placed.add(version.dot)
        }
    }

    @Test("a push is causally closed, each origin's part a prefix, within its bounds", arguments: propertySeeds)
    func pushSelectionIsClosed(seed: UInt64) {
        var history = CausalHistory(seed: seed, replicaCount: 4, documentCount: 3)
        history.run(steps: 150)
        var generator = SeededGenerator(seed: seed)
        var belief = VersionVector()
        let origins = Set(history.written.map(\.dot.replica)).sorted()
        for origin in origins { belief[origin] = UInt64.random(in: 0...3, using: &generator) }
        let runs = origins.map { origin in
            history.written.filter { $0.dot.replica == origin && $0.dot.counter > belief[origin] }.sorted { $0.dot < $1.dot }
        }.filter { !$0.isEmpty }
        let limit = Int.random(in: 1...40, using: &generator)
        let selection = PushSelection.select(runs: runs, belief: belief, limit: limit, maxBytes: .max) { _ in 1 }
        #expect(selection.versions.count <= limit && !selection.versions.isEmpty)
        var covered = belief
        for version in selection.versions { covered.add(version.dot) }
        for version in selection.versions {
            var reach = covered
            reach.add(Dot(replica: version.dot.replica, counter: version.dot.counter - 1))
            #expect(reach.dominates(version.context), "seed \(seed): \(version.dot) names what neither the hub nor the push holds")
        }
        for origin in origins {
            let counters = selection.versions.filter { $0.dot.replica == origin }.map(\.dot.counter)
            #expect(counters == Array((belief[origin] + 1)..<(belief[origin] + 1 + UInt64(counters.count))), "seed \(seed)")
        }
        #expect(selection.hasMore == (selection.versions.count < runs.reduce(0) { $0 + $1.count }))
    }

    /// Schedule: a replica relays B's version 1 and its own version 1 naming it; the push limit is one
    /// version, and A sorts before B. An origin-ordered push sent A:1 alone, which the hub would now
    /// quarantine as implausible; the closed selection sends B:1 first.
    @Test("a push limit never cuts between a version and what it names")
    func selectionWaitsForDependencies() {
        let dependent = Self.version(a, 1, [b: 1])
        let dependency = Self.version(b, 1)
        let first = PushSelection.select(runs: [[dependent], [dependency]], belief: [:], limit: 1, maxBytes: .max) { _ in 1 }
        #expect(first.versions.map(\.dot) == [dependency.dot] && first.hasMore)
        let second = PushSelection.select(runs: [[dependent]], belief: [b: 1], limit: 1, maxBytes: .max) { _ in 1 }
        #expect(second.versions.map(\.dot) == [dependent.dot] && !second.hasMore)
    }
}
