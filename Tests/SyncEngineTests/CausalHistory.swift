import Foundation
import SyncEngine
import TestSupport

/// A seeded simulation of replicas writing a few documents and passing versions to each other in
/// random orders, with duplicates: a well-formed causal history, as real replicas would make one.
///
/// Every write's context is the writer's current state of the document, as `WriteIntent` plans it
/// (a writer facing a conflict resolves it: its context covers every sibling).
struct CausalHistory {
    struct Replica {
        var id: ReplicaID
        var counter: UInt64 = 0
        var states: [DocumentKey: DocumentState] = [:]
        var held: [Dot: Version] = [:]

        mutating func receive(_ version: Version) {
            held[version.dot] = version
            states[version.key, default: DocumentState()].merge(version)
        }
    }

    let seed: UInt64
    var replicas: [Replica]
    /// Every version written, in writing order.
    var written: [Version] = []
    let keys: [DocumentKey]
    var random: SeededGenerator

    init(seed: UInt64, replicaCount: Int, documentCount: Int) {
        self.seed = seed
        random = SeededGenerator(seed: seed)
        var ids: [ReplicaID] = []
        for _ in 0..<replicaCount { ids.append(ReplicaID.random(using: &random)) }
        replicas = ids.map { Replica(id: $0) }
        keys = (0..<documentCount).map { Fixtures.key("doc-\($0)") }
    }

    /// A history driven by a list of small integers instead of a seed, so that PropertyBased can
    /// shrink a failing history to a few operations. Each even number is a write (which replica,
    /// which document), each odd one a delivery of everything one replica holds to another, in
    /// an order rotated by the rest of the number.
    init(operations: [Int], replicaCount: Int = 3, documentCount: Int = 2) {
        seed = 0
        random = SeededGenerator(seed: 0)
        replicas = (0..<replicaCount).map { Replica(id: Fixtures.replica(UInt8(0x10 * ($0 + 1)))) }
        keys = (0..<documentCount).map { Fixtures.key("doc-\($0)") }
        for operation in operations {
            let rest = operation / 2
            if operation.isMultiple(of: 2) {
                write(by: rest % replicaCount, key: keys[(rest / replicaCount) % documentCount])
            } else {
                let from = rest % replicaCount
                let to = (rest / replicaCount) % replicaCount
                var batch = replicas[from].held.values.sorted { $0.dot < $1.dot }
                if !batch.isEmpty {
                    let shift = (rest / (replicaCount * replicaCount)) % batch.count
                    batch = Array(batch[shift...] + batch[..<shift]).reversed()
                }
                for version in batch { replicas[to].receive(version) }
            }
        }
    }

    /// Runs `steps` random steps: writes, and deliveries of random subsets of one replica's versions
    /// to another in random order with duplicates.
    mutating func run(steps: Int, writeRate: Double = 0.5) {
        for _ in 0..<steps {
            if Double.random(in: 0..<1, using: &random) < writeRate {
                write(by: Int.random(in: replicas.indices, using: &random))
            } else {
                let from = Int.random(in: replicas.indices, using: &random)
                let to = Int.random(in: replicas.indices, using: &random)
                deliver(from: from, to: to, fraction: Double.random(in: 0...1, using: &random))
            }
        }
    }

    mutating func write(by index: Int) {
        write(by: index, key: keys.randomElement(using: &random) ?? keys[0])
    }

    mutating func write(by index: Int, key: DocumentKey) {
        var replica = replicas[index]
        replica.counter += 1
        let context = replica.states[key]?.context ?? VersionVector()
        let isDelete = Int.random(in: 0..<8, using: &random) == 0
        let body = isDelete ? nil : Data(#"{"n":\#(UInt32.random(in: 0...9999, using: &random))}"#.utf8)
        let version = Version(
            dot: Dot(replica: replica.id, counter: replica.counter), collection: key.collection,
            documentID: key.id, partition: Fixtures.partition, context: context, body: body,
            timestamp: HybridTimestamp(wallMilliseconds: 1_700_000_000_000 + UInt64(written.count)))
        replica.receive(version)
        replicas[index] = replica
        written.append(version)
    }

    /// Delivers about `fraction` of `from`'s versions to `to`, shuffled, some twice.
    mutating func deliver(from: Int, to: Int, fraction: Double) {
        // Dictionary order depends on the process's hash seed: sort before drawing anything.
        var batch = replicas[from].held.values.sorted { $0.dot < $1.dot }
            .filter { _ in Double.random(in: 0..<1, using: &random) < fraction }
        batch += batch.filter { _ in Bool.random(using: &random) }
        batch.shuffle(using: &random)
        for version in batch { replicas[to].receive(version) }
    }

    /// Every replica receives every version, shuffled, with duplicates.
    mutating func deliverEverything() {
        for index in replicas.indices {
            var batch = written + written.filter { _ in Bool.random(using: &random) }
            batch.shuffle(using: &random)
            for version in batch { replicas[index].receive(version) }
        }
    }

    /// The written versions of `key`, in writing order.
    func versions(of key: DocumentKey) -> [Version] { written.filter { $0.key == key } }

    /// The state by definition, not by incremental merging: the siblings are the versions no other
    /// version's context covers, the context the join of every history.
    static func oracle(_ versions: [Version]) -> DocumentState {
        var context = VersionVector()
        for version in versions { context.merge(version.history) }
        let siblings = Set(
            versions.filter { version in
                !versions.contains { $0.dot != version.dot && $0.context.contains(version.dot) }
            }.map(\.dot))
        return DocumentState(siblings: Array(siblings), context: context)
    }
}

extension DocumentState {
    /// Joins `other` into this state by merging its sibling versions (looked up in `versions`).
    /// For a well-formed history this is the state join, because the siblings' histories join to
    /// `other.context`.
    func joined(with other: DocumentState, versions: [Dot: Version]) -> DocumentState {
        var copy = self
        for dot in other.siblings {
            if let version = versions[dot] { copy.merge(version) }
        }
        return copy
    }
}
