import Foundation
import ReplicaStore
import SyncEngine
import Testing
import TestSupport

@Suite("Peers and checkpoints")
struct PeerTests {
    struct Interrupted: Error {}

    @Test func peerStateIsSavedAndLoaded() async throws {
        try await TemporaryReplica.withFolder { folder in
            let store = try folder.create()
            let hub = ReplicaID.random()
            #expect(try store.peerState("https://hub.example") == PeerState(peer: "https://hub.example"))
            try store.updatePeer("https://hub.example") { state in
                state.knowledge = [hub: 12]
                state.checkpoint = "cp-1"
                state.lastSyncAt = 1_700_000_000_000
                state.lastError = "timed out"
            }
            try store.updatePeer("b-peer") { $0.checkpoint = "x" }
            let reopened = try folder.open()
            let state = try reopened.peerState("https://hub.example")
            #expect(
                state
                    == PeerState(
                        peer: "https://hub.example", knowledge: [hub: 12], checkpoint: "cp-1",
                        lastSyncAt: 1_700_000_000_000, lastError: "timed out"))
            try reopened.updatePeer("https://hub.example") { $0.lastError = nil }
            #expect(try reopened.peerState("https://hub.example").lastError == nil)
            #expect(try reopened.peerState("https://hub.example").knowledge == [hub: 12], "the rest is kept")
            #expect(try reopened.peerStates().map(\.peer) == ["b-peer", "https://hub.example"])
        }
    }

    @Test func aCheckpointCommitsWithThePageItCovers() async throws {
        try await TemporaryReplica.withReplicas(2) { stores in
            let versions = try (1...3).map { try stores[0].write(StoreFixtures.put("d\($0)", "x")) }
            try stores[1].apply(
                versions, from: stores[0].replicaID,
                inSameTransaction: { context in
                    try context.updatePeer("hub") { state in
                        state.checkpoint = "after-page-1"
                        state.knowledge = [stores[0].replicaID: 3]
                    }
                })
            #expect(try stores[1].peerState("hub").checkpoint == "after-page-1")
            #expect(try stores[1].peerState("hub").knowledge == [stores[0].replicaID: 3])
            #expect(try stores[1].status().versions == 3)
        }
    }

    @Test func aFailingCheckpointRollsBackThePage() async throws {
        try await TemporaryReplica.withReplicas(2) { stores in
            let (origin, receiver) = (stores[0], stores[1])
            let first = try origin.write(StoreFixtures.put("a", "x"))
            try receiver.apply(
                [first], from: origin.replicaID, inSameTransaction: { try $0.updatePeer("hub") { $0.checkpoint = "1" } }
            )
            let before = try StoreFixtures.view(receiver)
            let counterBefore = try receiver.status()

            let page = try (1...3).map { try origin.write(StoreFixtures.put("p\($0)", "x")) }
            #expect(throws: Interrupted.self) {
                try receiver.apply(
                    page, from: origin.replicaID,
                    inSameTransaction: { context in
                        try context.updatePeer("hub") { $0.checkpoint = "2" }
                        throw Interrupted()
                    })
            }
            #expect(try receiver.peerState("hub").checkpoint == "1")
            #expect(try StoreFixtures.view(receiver) == before)
            #expect(try receiver.status() == counterBefore)
            #expect(try receiver.history(of: page[0].key).isEmpty)

            // The same page applies cleanly afterwards: nothing half-done was left behind.
            let report = try receiver.apply(
                page, from: origin.replicaID, inSameTransaction: { try $0.updatePeer("hub") { $0.checkpoint = "2" } })
            #expect(report.stored == 3)
            #expect(try receiver.peerState("hub").checkpoint == "2")
        }
    }

    @Test func publicKeysAreKept() async throws {
        try await TemporaryReplica.withReplicas(2) { stores in
            let written = try stores[0].write(StoreFixtures.put("a", "x"))
            try stores[1].apply([written], from: stores[0].replicaID)
            #expect(try stores[1].signatureStatus(of: written) == .unknownKey)
            try stores[1].savePublicKeys([stores[0].replicaID: stores[0].publicKey])
            #expect(try stores[1].signatureStatus(of: written) == .valid)
            var forged = written
            forged.body = StoreFixtures.body("forged")
            #expect(try stores[1].signatureStatus(of: forged) == .invalid)
            #expect(
                try stores[1].publicKeys() == [
                    stores[0].replicaID: stores[0].publicKey, stores[1].replicaID: stores[1].publicKey,
                ])
        }
    }
}
