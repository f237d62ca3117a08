import Foundation
import Synchronization
import ReplicaStore
import SyncEngine
import Testing
import TestSupport

@Suite("Applying received versions")
struct ApplyTests {
    /// Three replicas write and exchange at random (seeded), so the versions they end with hold
    /// concurrent edits, resolutions and deletes of a few documents.
    static func mixedHistory(_ folder: TemporaryReplica, seed: UInt64) throws -> [Version] {
        var random = SeededGenerator(seed: seed)
        let writers = try (0..<3).map { try folder.create("writer-\($0)") }
        for _ in 0..<60 {
            let writer = writers[Int.random(in: 0..<3, using: &random)]
            if Int.random(in: 0..<3, using: &random) == 0 {
                let other = writers[Int.random(in: 0..<3, using: &random)]
                if other.replicaID != writer.replicaID { try StoreFixtures.exchange(from: other, to: writer) }
                continue
            }
            let key = StoreFixtures.key("doc-\(Int.random(in: 0..<4, using: &random))")
            let current = try writer.document(key)
            let text = "v\(UInt16.random(in: 0...999, using: &random))"
            let intent: WriteIntent
            if let current, current.isConflicted {
                intent = WriteIntent(key: key, body: StoreFixtures.body(text), isResolution: true)
            } else if current != nil, Int.random(in: 0..<6, using: &random) == 0 {
                intent = WriteIntent(key: key, body: nil)
            } else {
                intent = WriteIntent(key: key, body: StoreFixtures.body(text))
            }
            try writer.write(intent)
        }
        var all: [Dot: Version] = [:]
        for writer in writers {
            for version in try StoreFixtures.allVersions(writer) { all[version.dot] = version }
        }
        // Replica ids are random: order by writer, then counter, so that the shuffles that follow
        // depend on the seed only.
        let rank = Dictionary(uniqueKeysWithValues: writers.enumerated().map { ($1.replicaID, $0) })
        return all.values.sorted {
            (rank[$0.dot.replica] ?? 0, $0.dot.counter) < (rank[$1.dot.replica] ?? 0, $1.dot.counter)
        }
    }

    @Test(arguments: propertySeeds.prefix(4))
    func applyIsIdempotentAndOrderIndependent(seed: UInt64) async throws {
        try await TemporaryReplica.withFolder { folder in
            var random = SeededGenerator(seed: seed)
            let versions = try Self.mixedHistory(folder, seed: seed)
            #expect(versions.count > 20, "seed \(seed)")
            #expect(versions.contains { $0.context.entries.count >= 2 }, "seed \(seed): writers saw each other's edits")
            let inOrder = try folder.create("in-order")
            let shuffled = try folder.create("shuffled")
            let sender = ReplicaID.random(using: &random)

            let report = try inOrder.apply(versions, from: sender)
            #expect(report.stored == versions.count && report.alreadyHeld == 0, "seed \(seed)")

            var scrambled = versions + versions.filter { _ in Bool.random(using: &random) }
            scrambled.shuffle(using: &random)
            var start = 0
            while start < scrambled.count {
                let end = min(scrambled.count, start + Int.random(in: 1...9, using: &random))
                try shuffled.apply(Array(scrambled[start..<end]), from: sender)
                start = end
            }
            let expected = try StoreFixtures.view(inOrder)
            #expect(try StoreFixtures.view(shuffled) == expected, "seed \(seed)")

            let again = try shuffled.apply(versions.reversed(), from: sender)
            #expect(again.stored == 0 && again.alreadyHeld == versions.count, "seed \(seed)")
            #expect(try StoreFixtures.view(shuffled) == expected, "seed \(seed)")
            #expect(try shuffled.status().versions == versions.count)

            // Each document's state is the pure merge of its versions.
            for document in expected.documents {
                let own = versions.filter { $0.key == document.key }
                #expect(document.state == DocumentState(merging: own), "seed \(seed), \(document.key)")
                #expect(document.siblings.map(\.dot) == document.state.siblings)
            }
        }
    }

    @Test func versionsAreKeptExactlyAsReceived() async throws {
        try await TemporaryReplica.withReplicas(2) { stores in
            let written = try stores[0].write(StoreFixtures.put("a", "exact"))
            try stores[1].apply([written], from: stores[0].replicaID)
            let held = try #require(try stores[1].history(of: written.key).first)
            #expect(held.version == written)
            #expect(held.version.signature == written.signature)
            #expect(held.receivedFrom == stores[0].replicaID)
            #expect(stores[0].publicKey.isValidSignature(of: held.version))
        }
    }

    @Test func aForkIsDetectedAndTheOriginsLaterVersionsInTheBatchRefused() async throws {
        try await TemporaryReplica.withReplicas(3) { stores in
            let (origin, other, receiver) = (stores[0], stores[1], stores[2])
            let first = try origin.write(StoreFixtures.put("a", "one"))
            let second = try origin.write(StoreFixtures.put("a", "two"))
            let unrelated = try other.write(StoreFixtures.put("b", "other"))
            try receiver.apply([first], from: origin.replicaID)

            // The same dot with other content (a replica restored from a backup that wrote again).
            var forged = first
            forged.body = StoreFixtures.body("different")
            forged = try DeviceKey().sign(forged)
            let report = try receiver.apply([forged, second, unrelated], from: origin.replicaID)
            #expect(report.forks == [first.dot])
            #expect(report.refused == [second.dot])
            #expect(report.stored == 1)
            #expect(try receiver.document(first.key)?.siblings == [first], "the version held first is kept")
            #expect(try receiver.document(unrelated.key)?.siblings == [unrelated], "other origins go on")
            #expect(try receiver.knowledge() == [origin.replicaID: 1, other.replicaID: 1])

            // The fork only holds within that batch: a later clean batch is applied.
            let later = try receiver.apply([second], from: origin.replicaID)
            #expect(later.stored == 1)
        }
    }

    @Test func admitCanSetAsideOrRefuseAndIsToldTheHeldCounter() async throws {
        try await TemporaryReplica.withReplicas(2) { stores in
            let (origin, receiver) = (stores[0], stores[1])
            let versions = try (1...4).map { try origin.write(StoreFixtures.put("doc-\($0)", "x")) }
            let seen = Recorder()
            let report = try receiver.apply(versions, from: origin.replicaID) { version, held in
                seen.values.withLock { $0.append(held) }
                switch version.dot.counter {
                case 2: return .setAside(SetAsideReason(.outOfScope, "no write scope"))
                case 4: return .refuse
                default: return .merge
                }
            }
            #expect(seen.values.withLock { $0 } == [0, 1, 2, 3], "held counter includes versions earlier in the batch")
            #expect(report.stored == 3)
            #expect(report.setAside == [versions[1].dot: SetAsideReason(.outOfScope, "no write scope")])
            #expect(report.refused == [versions[3].dot])
            #expect(try receiver.document(versions[0].key) != nil)
            #expect(try receiver.document(versions[1].key) == nil, "set aside: kept out of the document")
            #expect(try receiver.history(of: versions[1].key).map(\.setAsideReason) == [SetAsideReason(.outOfScope, "no write scope")])
            #expect(try receiver.history(of: versions[3].key).isEmpty, "refused: not stored")
            #expect(try receiver.status().setAside == 1)
            let missing = try receiver.versions(missingFrom: VersionVector(), limit: 10, maxBytes: .max)
            #expect(
                missing.versions.map(\.dot) == [versions[0].dot, versions[2].dot], "set-aside versions are not offered")
        }
    }

    @Test func anAdmitRuleRefusingGapsKeepsKnowledgeContiguous() async throws {
        try await TemporaryReplica.withReplicas(2) { stores in
            let (origin, receiver) = (stores[0], stores[1])
            let versions = try (1...4).map { try origin.write(StoreFixtures.put("doc-\($0)", "x")) }
            let noGaps: @Sendable (Version, UInt64) -> Admission = { version, held in
                version.dot.counter == held + 1 ? .merge : .refuse
            }
            let gap = try receiver.apply([versions[0], versions[2]], from: origin.replicaID, admit: noGaps)
            #expect(gap.refused == [versions[2].dot])
            #expect(try receiver.knowledge() == [origin.replicaID: 1])
            let rest = try receiver.apply(
                [versions[1], versions[2], versions[3]], from: origin.replicaID, admit: noGaps)
            #expect(rest.stored == 3)
            #expect(try receiver.knowledge() == [origin.replicaID: 4])
        }
    }

    @Test func aVersionMovingItsDocumentsPartitionIsSetAside() async throws {
        try await TemporaryReplica.withReplicas(2) { stores in
            let first = try stores[0].write(StoreFixtures.put("a", "x", partition: StoreFixtures.north))
            var moved = try stores[0].write(StoreFixtures.put("a", "y"))
            moved.partition = StoreFixtures.south
            let report = try stores[1].apply([first, moved], from: stores[0].replicaID)
            #expect(report.setAside.keys.sorted() == [moved.dot])
            #expect(try stores[1].document(first.key)?.siblings == [first])
        }
    }

    @Test func setAsideRebuildsTheDocumentsState() async throws {
        try await TemporaryReplica.withReplicas(3) { stores in
            let base = try stores[0].write(StoreFixtures.put("a", "base"))
            try stores[1].apply([base], from: stores[0].replicaID)
            try stores[2].apply([base], from: stores[0].replicaID)
            let left = try stores[1].write(StoreFixtures.put("a", "left"))
            let right = try stores[2].write(StoreFixtures.put("a", "right"))
            try stores[0].apply([left, right], from: nil)
            #expect(try stores[0].conflicts().map(\.key) == [base.key])

            try stores[0].setAside([right.dot: SetAsideReason(.rejectedByHub, "rejected by the hub")])
            let document = try #require(try stores[0].document(base.key))
            #expect(document.siblings == [left])
            #expect(document.state == DocumentState(merging: [base, left]))
            #expect(try stores[0].conflicts().isEmpty)

            try stores[0].setAside([left.dot: SetAsideReason(.rejectedByHub, "rejected"), base.dot: SetAsideReason(.rejectedByHub, "rejected")])
            #expect(try stores[0].document(base.key) == nil, "nothing in good standing: no document")
            #expect(try stores[0].history(of: base.key).count == 3, "set-aside versions stay in history")
        }
    }
}

/// Collects values from `@Sendable` callbacks.
final class Recorder: Sendable {
    let values = Mutex<[UInt64]>([])
}
