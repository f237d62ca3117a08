import Foundation
import HubStore
import HubStoreSQLite
import ReplicaStore
import SyncEngine
import SyncHub
import Testing
import TestSupport

/// The hub's exchange driven directly, with field replicas as clients.
@Suite("Hub exchange")
struct HubExchangeTests {
    // MARK: Helpers

    static func hub(in folder: TemporaryReplica, name: String = "hub") throws -> HubExchange {
        try HubExchange.sqlite(
            path: folder.path(name), configuration: .withoutSignatureChecks, options: folder.options,
            logger: HubFixture.silentLogger)
    }

    @discardableResult
    static func write(_ store: ReplicaStore, _ id: String, _ json: String = #"{"title":"report"}"#) throws -> Version {
        let key = DocumentKey(
            collection: try #require(CollectionName("notes")), id: try #require(DocumentID(id)))
        return try store.write(WriteIntent(key: key, body: Data(json.utf8)))
    }

    static func request(
        _ store: ReplicaStore, push: [Version] = [], checkpoint: String? = nil, assumed: VersionVector? = nil
    ) throws -> SyncRequest {
        SyncRequest(
            replica: store.replicaID, counter: try store.counter(), checkpoint: checkpoint, push: push,
            assumedKnowledge: assumed)
    }

    /// Everything `store` holds that a hub knowing `knowledge` lacks.
    static func missing(_ store: ReplicaStore, from knowledge: VersionVector = VersionVector()) throws -> [Version] {
        try store.versions(missingFrom: knowledge, limit: 10_000, maxBytes: .max).versions
    }

    /// A version the hub does not check yet (signatures come with enrollment).
    static func forged(_ dot: Dot, body: String?, id: String = "forged") throws -> Version {
        Version(
            dot: dot, collection: try #require(CollectionName("notes")), documentID: try #require(DocumentID(id)),
            partition: .default, context: VersionVector(), body: body.map { Data($0.utf8) },
            timestamp: HybridTimestamp(wallMilliseconds: 1_700_000_000_000, logical: 0),
            signature: Data(repeating: 7, count: 64))
    }

    // MARK: Tests

    @Test func pushThenPullFromAnotherReplica() async throws {
        let folder = try TemporaryReplica()
        defer { withExtendedLifetime(folder) {} }
        let hub = try Self.hub(in: folder)
        let (a, b) = (try folder.create("a"), try folder.create("b"))
        for index in 0..<3 { try Self.write(a, "doc-\(index)") }

        let pushed = try await hub.handle(Self.request(a, push: Self.missing(a)))
        #expect(pushed.hub == hub.hubID)
        #expect(pushed.accepted == 3)
        #expect(pushed.rejected.isEmpty)
        #expect(pushed.knowledge[a.replicaID] == 3)
        #expect(pushed.versions.isEmpty, "a pull never sends the pusher its own versions")
        #expect(!pushed.more)

        let pulled = try await hub.handle(Self.request(b))
        #expect(pulled.versions.map(\.dot) == (1...3).map { Dot(replica: a.replicaID, counter: $0) })
        #expect(!pulled.more && !pulled.checkpointReset)
        try b.apply(pulled.versions, from: hub.hubID)
        #expect(try b.documents(in: try #require(CollectionName("notes"))).documents.count == 3)

        let again = try await hub.handle(Self.request(b, checkpoint: pulled.checkpoint))
        #expect(again.versions.isEmpty)
        #expect(again.checkpoint == pulled.checkpoint)
        #expect(!again.checkpointReset)
    }

    @Test func pagesAreBoundedAndResumeAtTheCheckpoint() async throws {
        let folder = try TemporaryReplica()
        defer { withExtendedLifetime(folder) {} }
        let hub = try Self.hub(in: folder)
        let (a, b) = (try folder.create("a"), try folder.create("b"))
        for index in 0..<5 { try Self.write(a, "doc-\(index)") }
        _ = try await hub.handle(Self.request(a, push: Self.missing(a)))

        var checkpoint: String?
        var received: [Dot] = []
        for _ in 0..<10 {
            var request = try Self.request(b, checkpoint: checkpoint)
            request.limits = PageLimits(versions: 2, bytes: 1 << 20)
            let response = try await hub.handle(request)
            #expect(response.versions.count <= 2)
            received += response.versions.map(\.dot)
            checkpoint = response.checkpoint
            if !response.more { break }
        }
        #expect(received == (1...5).map { Dot(replica: a.replicaID, counter: $0) })
    }

    @Test func repushIsIdempotent() async throws {
        let folder = try TemporaryReplica()
        defer { withExtendedLifetime(folder) {} }
        let hub = try Self.hub(in: folder)
        let a = try folder.create("a")
        for index in 0..<3 { try Self.write(a, "doc-\(index)") }
        let push = try Self.missing(a)

        let first = try await hub.handle(Self.request(a, push: push))
        let second = try await hub.handle(Self.request(a, push: push))
        #expect(first.accepted == 3)
        #expect(second.accepted == 0)
        #expect(second.rejected.isEmpty)
        #expect(second.knowledge == first.knowledge)
        let storage = try #require(hub.storage as? SQLiteHubStorage)
        #expect(try storage.store.status().versions == 3)
    }

    @Test func concurrentExchangesOfOneReplicaAreSafe() async throws {
        let folder = try TemporaryReplica()
        defer { withExtendedLifetime(folder) {} }
        let hub = try Self.hub(in: folder)
        let a = try folder.create("a")
        for index in 0..<20 { try Self.write(a, "doc-\(index)") }
        let request = try Self.request(a, push: Self.missing(a))
        async let first = hub.handle(request)
        async let second = hub.handle(request)
        let (one, two) = try await (first, second)
        #expect(one.accepted + two.accepted == 20)
        #expect(one.knowledge[a.replicaID] == 20 && two.knowledge[a.replicaID] == 20)
        let storage = try #require(hub.storage as? SQLiteHubStorage)
        #expect(try storage.store.status().versions == 20)
    }

    @Test func gapIsRefusedAndTheKnowledgeSaysWhereToPushFrom() async throws {
        let folder = try TemporaryReplica()
        defer { withExtendedLifetime(folder) {} }
        let hub = try Self.hub(in: folder)
        let a = try folder.create("a")
        for index in 0..<3 { try Self.write(a, "doc-\(index)") }
        // The client believes the hub holds a:1 (a stale belief); the hub holds nothing of a.
        let stale = try Self.missing(a, from: VersionVector([a.replicaID: 1]))
        #expect(stale.map(\.dot.counter) == [2, 3])

        let refused = try await hub.handle(Self.request(a, push: stale))
        #expect(refused.accepted == 0)
        #expect(refused.rejected.isEmpty, "a gap is not a rejection: the client re-pushes")
        #expect(refused.knowledge[a.replicaID] == 0)
        let storage = try #require(hub.storage as? SQLiteHubStorage)
        #expect(try storage.store.status().versions == 0)

        let repushed = try await hub.handle(Self.request(a, push: Self.missing(a, from: refused.knowledge)))
        #expect(repushed.accepted == 3)
        #expect(repushed.knowledge[a.replicaID] == 3)
    }

    @Test func invalidBodyIsQuarantinedAndReportedEveryTime() async throws {
        let folder = try TemporaryReplica()
        defer { withExtendedLifetime(folder) {} }
        let hub = try Self.hub(in: folder)
        let (a, b) = (try folder.create("a"), try folder.create("b"))
        let bad = try Self.forged(Dot(replica: a.replicaID, counter: 1), body: "[1, 2, 3]")
        let good = try Self.forged(Dot(replica: a.replicaID, counter: 2), body: #"{"ok":true}"#, id: "other")

        for attempt in 0..<2 {
            let response = try await hub.handle(Self.request(a, push: [good, bad]))
            let rejection = try #require(response.rejected.first)
            #expect(response.rejected.count == 1)
            #expect(rejection.dot == bad.dot)
            #expect(rejection.reason == .invalidRecord)
            #expect(rejection.quarantined)
            #expect(rejection.message.contains("invalid record"))
            #expect(response.accepted == (attempt == 0 ? 1 : 0))
            #expect(response.knowledge[a.replicaID] == 2, "a quarantined version is held: no gap behind it")
        }
        let pulled = try await hub.handle(Self.request(b))
        #expect(pulled.versions.map(\.dot) == [good.dot], "quarantined versions stay out of pulls")
    }

    @Test func forkIsReportedAndNothingAfterItTaken() async throws {
        let folder = try TemporaryReplica()
        defer { withExtendedLifetime(folder) {} }
        let hub = try Self.hub(in: folder)
        let a = try folder.create("a")
        try Self.write(a, "doc-1")
        _ = try await hub.handle(Self.request(a, push: Self.missing(a)))

        // A copy of the replica wrote other versions under the same dots.
        let divergent = try Self.forged(Dot(replica: a.replicaID, counter: 1), body: #"{"other":1}"#)
        let next = try Self.forged(Dot(replica: a.replicaID, counter: 2), body: #"{"other":2}"#)
        let response = try await hub.handle(Self.request(a, push: [next, divergent]))
        #expect(response.rejected.count == 1)
        let rejection = try #require(response.rejected.first)
        #expect(rejection.reason == .fork)
        #expect(rejection.dot == divergent.dot)
        #expect(!rejection.quarantined)
        #expect(rejection.message.contains(divergent.dot.description))
        #expect(response.accepted == 0)
        #expect(response.knowledge[a.replicaID] == 1)
    }

    @Test func ownVersionsAreNotSentBackButARestoredReplicaRecoversItsLaterOnes() async throws {
        let folder = try TemporaryReplica()
        defer { withExtendedLifetime(folder) {} }
        let hub = try Self.hub(in: folder)
        let (a, b) = (try folder.create("a"), try folder.create("b"))
        for index in 0..<3 { try Self.write(a, "doc-\(index)") }
        try Self.write(b, "from-b")
        _ = try await hub.handle(Self.request(a, push: Self.missing(a)))
        _ = try await hub.handle(Self.request(b, push: Self.missing(b)))

        let current = try await hub.handle(Self.request(a))
        #expect(current.versions.map(\.dot.replica) == [b.replicaID])

        var restored = try Self.request(a)
        restored.counter = 1
        let recovered = try await hub.handle(restored)
        #expect(
            Set(recovered.versions.map(\.dot))
                == [Dot(replica: a.replicaID, counter: 2), Dot(replica: a.replicaID, counter: 3), Dot(replica: b.replicaID, counter: 1)])
        #expect(recovered.knowledge[a.replicaID] == 3, "the answer tells the replica its counter was further")
    }

    @Test func checkpointResetsWhenTheHubIsReplacedByAnOlderCopy() async throws {
        let folder = try TemporaryReplica()
        defer { withExtendedLifetime(folder) {} }
        let (a, b, c) = (try folder.create("a"), try folder.create("b"), try folder.create("c"))
        let backup = folder.path("hub-backup")
        do {
            let hub = try Self.hub(in: folder)
            try Self.write(a, "doc-0")
            _ = try await hub.handle(Self.request(a, push: Self.missing(a)))
            for suffix in ["", "-wal", "-shm", ".key"] where FileManager.default.fileExists(atPath: folder.path("hub") + suffix) {
                try FileManager.default.copyItem(atPath: folder.path("hub") + suffix, toPath: backup + suffix)
            }
        }
        let hub = try Self.hub(in: folder)
        for index in 1..<3 { try Self.write(a, "doc-\(index)") }
        _ = try await hub.handle(Self.request(a, push: Self.missing(a, from: VersionVector([a.replicaID: 1]))))
        let beforeRestore = try await hub.handle(Self.request(b))
        #expect(beforeRestore.versions.count == 3)

        // The hub is restored from the backup: it holds a:1 only, and another replica writes there.
        let restored = try Self.hub(in: folder, name: "hub-backup")
        #expect(restored.hubID == hub.hubID)
        try Self.write(c, "doc-c1")
        try Self.write(c, "doc-c2")
        _ = try await restored.handle(Self.request(c, push: Self.missing(c)))

        let reset = try await restored.handle(Self.request(b, checkpoint: beforeRestore.checkpoint))
        #expect(reset.checkpointReset)
        #expect(Set(reset.versions.map(\.dot.replica)) == [a.replicaID, c.replicaID])
        #expect(reset.versions.count == 3)

        // The client then sends its whole belief; the hub answers what it holds less of.
        let assumed = VersionVector([a.replicaID: 3, c.replicaID: 2])
        let answer = try await restored.handle(Self.request(b, checkpoint: reset.checkpoint, assumed: assumed))
        #expect(!answer.checkpointReset)
        #expect(answer.knowledge.entries == [a.replicaID: 1, c.replicaID: 2])

        // A checkpoint at a sequence the restored hub never reached is refused too.
        let unknown = try await restored.handle(Self.request(b, checkpoint: "999.\(Dot(replica: a.replicaID, counter: 1))"))
        #expect(unknown.checkpointReset)
        let garbage = try await restored.handle(Self.request(b, checkpoint: "not a checkpoint"))
        #expect(garbage.checkpointReset)
    }

    @Test func unsupportedProtocolNamesBothVersions() async throws {
        let folder = try TemporaryReplica()
        defer { withExtendedLifetime(folder) {} }
        let hub = try Self.hub(in: folder)
        let a = try folder.create("a")
        var request = try Self.request(a)
        request.protocolVersion = 99
        let error = await #expect(throws: SyncHubError.self) { try await hub.handle(request) }
        #expect(error?.code == .unsupportedProtocol)
        #expect(error?.message.contains("99") == true)
        #expect(error?.message.contains("\(SyncProtocol.current)") == true)
    }

    @Test func pushAboveTheLimitIsRefusedWhole() async throws {
        let folder = try TemporaryReplica()
        defer { withExtendedLifetime(folder) {} }
        var configuration = HubConfiguration.withoutSignatureChecks
        configuration.limits.maxPushVersions = 2
        let hub = try HubExchange.sqlite(
            path: folder.path("hub"), configuration: configuration, options: folder.options,
            logger: HubFixture.silentLogger)
        let a = try folder.create("a")
        for index in 0..<3 { try Self.write(a, "doc-\(index)") }
        let error = await #expect(throws: SyncHubError.self) { try await hub.handle(Self.request(a, push: Self.missing(a))) }
        #expect(error?.code == .tooLarge)
        let storage = try #require(hub.storage as? SQLiteHubStorage)
        #expect(try storage.store.status().versions == 0)
    }
}
