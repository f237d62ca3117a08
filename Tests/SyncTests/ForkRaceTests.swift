import Foundation
import HubStore
import HubStoreSQLite
import ReplicaStore
import SyncClient
import SyncEngine
import SyncHub
import Synchronization
import Testing
import TestSupport

/// Forks found at awkward moments: the other copy's versions of the shared id pulled before the
/// fork is known, a second process taking the new incarnation while a round is in flight, a fork
/// found in a pulled page rather than in a push answer, and a fork in the answer that narrows the
/// read scope. In every schedule the replica's own writes reach the hub once, under its new id,
/// and nothing it pulled is re-issued as its own.
@Suite("Fork races")
struct ForkRaceTests {
    typealias Copies = ClientIncarnationTests

    static func key(_ id: String) -> DocumentKey { Copies.key(id) }

    /// A replica `original` with one synced version, copied to `copy`; returns the shared id.
    static func original(_ folder: TemporaryReplica, _ transport: any SyncTransport) async throws -> ReplicaID {
        let original = try folder.create("original")
        try original.write(WriteIntent(key: key("shared"), body: Copies.body("shared")))
        _ = try await Copies.sync(original, transport)
        try Copies.copy(folder, "original", to: "copy")
        return original.replicaID
    }

    /// The dots of the single sibling of every document `ids` on `store`.
    static func dots(_ store: ReplicaStore, _ ids: [String]) throws -> [String: [Dot]] {
        var dots: [String: [Dot]] = [:]
        for id in ids { dots[id] = try store.document(key(id))?.siblings.map(\.dot) ?? [] }
        return dots
    }

    /// Schedule: the replica is copied; the original writes old:2…4 and syncs; the copy writes
    /// old:2 and syncs: the hub refuses it as a fork and, in the same answer, sends old:3 and old:4
    /// (the copy's counter was 2), which the copy stores before it handles the fork. The new
    /// incarnation re-issues only old:2, the copy's own write, never the pulled old:3 and old:4.
    @Test("a new incarnation re-issues only what the replica wrote, never what it pulled under the old id")
    func reissuesOnlyOwnWrites() async throws {
        try await TemporaryReplica.withFolder { folder in
            let hub = try makeHub(in: folder)
            let hubStore = try #require((hub.storage as? SQLiteHubStorage)?.store)
            let transport = InProcessTransport(hub: hub)
            let old = try await Self.original(folder, transport)
            let original = try folder.open("original")
            let copy = try folder.open("copy")
            for id in ["a", "b", "c"] { try original.write(WriteIntent(key: Self.key(id), body: Copies.body(id))) }
            _ = try await Copies.sync(original, transport)
            let theirs = try copy.write(WriteIntent(key: Self.key("theirs"), body: Copies.body("copy")))
            #expect(theirs.dot == Dot(replica: old, counter: 2))
            _ = try await Copies.sync(copy, transport)
            _ = try await Copies.sync(original, transport)

            let new = try copy.currentReplicaID()
            let incarnation = try #require(try copy.earlierIncarnations().first)
            #expect(incarnation.forkedAt == Dot(replica: old, counter: 2) && incarnation.reissued == 1)
            #expect(try copy.counter() == 1)
            #expect(try hubStore.status().versions == 5, "old:1…4 and new:1, nothing twice")
            for store in [hubStore, original, copy] {
                let dots = try Self.dots(store, ["a", "b", "c", "theirs"])
                #expect(dots["a"] == [Dot(replica: old, counter: 2)])
                #expect(dots["b"] == [Dot(replica: old, counter: 3)])
                #expect(dots["c"] == [Dot(replica: old, counter: 4)])
                #expect(dots["theirs"] == [Dot(replica: new, counter: 1)])
            }
        }
    }

    /// Schedule: the replica is copied; the original writes old:2 and old:3 and syncs; the copy
    /// writes old:2. Process A syncs the copy: its round (planned for old, pushing old:2) reaches
    /// the hub, which refuses old:2 as a fork and sends old:3; before A commits the answer, process
    /// B syncs the same file, takes the new incarnation and finishes. A's commit must not apply
    /// what it planned for old (raise the counter to 3, save its belief and checkpoint): the
    /// round is redone under the new id. Otherwise the new id's next write skips counters the
    /// hub never saw and the hub refuses it as a gap.
    @Test("a round planned before another process took a new incarnation is redone under the new id")
    func commitChecksTheReplicaID() async throws {
        try await TemporaryReplica.withFolder { folder in
            let hub = try makeHub(in: folder)
            let hubStore = try #require((hub.storage as? SQLiteHubStorage)?.store)
            let old = try await Self.original(folder, InProcessTransport(hub: hub))
            let original = try folder.open("original")
            for id in ["a", "b"] { try original.write(WriteIntent(key: Self.key(id), body: Copies.body(id))) }
            _ = try await Copies.sync(original, InProcessTransport(hub: hub))
            let processA = try folder.open("copy")
            let processB = try folder.open("copy")
            try processA.write(WriteIntent(key: Self.key("theirs"), body: Copies.body("copy")))
            let transport = InterleavingTransport(hub: hub) {
                _ = try await Copies.sync(processB, InProcessTransport(hub: hub))
            }
            _ = try await Copies.sync(processA, transport)

            let new = try processA.currentReplicaID()
            #expect(new != old)
            #expect(try processA.earlierIncarnations().map(\.succeededBy) == [new])
            #expect(try processA.counter() == 1, "the counter of the new id is the number re-issued")
            let later = try processA.write(WriteIntent(key: Self.key("later"), body: Copies.body("after")))
            #expect(later.dot == Dot(replica: new, counter: 2))
            _ = try await Copies.sync(processA, InProcessTransport(hub: hub))
            #expect(try hubStore.document(Self.key("later"))?.siblings.map(\.dot) == [later.dot])
            #expect(try hubStore.document(Self.key("theirs"))?.siblings.map(\.dot) == [Dot(replica: new, counter: 1)])
        }
    }

    /// Schedule: the replica is copied; the original writes old:2 and old:3 and syncs; the copy
    /// starts a sync that pushes nothing (its request says counter 1), and while the round is in
    /// flight its user writes old:2. The page brings the original's old:2 and old:3 (above the
    /// copy's counter): old:2 is held here with another signature, a fork found in a pulled page.
    /// The copy takes a new incarnation and re-issues its old:2, as for a fork in a push answer.
    /// Otherwise its belief says the hub holds old:3, so old:2 is never pushed and never reaches
    /// anyone, and the original's versions are never stored.
    @Test("a fork found in a pulled page takes a new incarnation, and the own write reaches the hub")
    func forkInPulledPage() async throws {
        try await TemporaryReplica.withFolder { folder in
            let hub = try makeHub(in: folder)
            let hubStore = try #require((hub.storage as? SQLiteHubStorage)?.store)
            let old = try await Self.original(folder, InProcessTransport(hub: hub))
            let original = try folder.open("original")
            for id in ["a", "b"] { try original.write(WriteIntent(key: Self.key(id), body: Copies.body(id))) }
            _ = try await Copies.sync(original, InProcessTransport(hub: hub))
            let copy = try folder.open("copy")
            let transport = InterleavingTransport(hub: hub) {
                _ = try copy.write(WriteIntent(key: Self.key("theirs"), body: Copies.body("copy")))
            }
            _ = try await Copies.sync(copy, transport)
            _ = try await Copies.sync(original, InProcessTransport(hub: hub))

            let new = try copy.currentReplicaID()
            #expect(new != old)
            let incarnation = try #require(try copy.earlierIncarnations().first)
            #expect(incarnation.forkedAt == Dot(replica: old, counter: 2) && incarnation.reissued == 1)
            for store in [hubStore, original, copy] {
                let dots = try Self.dots(store, ["a", "b", "theirs"])
                #expect(dots["a"] == [Dot(replica: old, counter: 2)])
                #expect(dots["b"] == [Dot(replica: old, counter: 3)])
                #expect(dots["theirs"] == [Dot(replica: new, counter: 1)])
            }
        }
    }

    /// Schedule (enrolled, verifying): the replica is copied; the original writes old:2 in
    /// partition A and syncs; the copy writes old:2 in partition B; the operator narrows the
    /// device's read scope to partition A. The copy's sync pushes old:2; the answer refuses it as a
    /// fork and, with the new grants, makes the copy forget partition B, while the hub's knowledge
    /// of old (2, the original's) seemed to cover the copy's old:2. The new incarnation re-issues
    /// that unsent version like the others, the hub takes it, and only then is it forgotten.
    @Test("a fork in the answer that narrows the read scope re-issues the unsent version of a forgotten document")
    func forkWithNarrowedScope() async throws {
        try await HubFixture.withHub { hub in
            try await TemporaryReplica.withFolder { folder in
                let original = try folder.create("original")
                let old = original.replicaID
                let token = try await hub.enroll(original, name: "amina-laptop", save: true)
                let transport = ClientIncarnationTests.transport(hub, token)
                try original.write(WriteIntent(key: Self.key("shared"), partition: Partition("A")!, body: Copies.body("shared")))
                _ = try await Copies.sync(original, transport, verify: true)
                try Copies.copy(folder, "original", to: "copy")
                let copy = try folder.open("copy")
                try original.write(WriteIntent(key: Self.key("mine"), partition: Partition("A")!, body: Copies.body("original")))
                _ = try await Copies.sync(original, transport, verify: true)
                try copy.write(WriteIntent(key: Self.key("theirs"), partition: Partition("B")!, body: Copies.body("copy")))
                _ = try await DeviceAdministration(store: hub.store).setScopes(read: Scope(text: "notes/A"), write: nil, of: old.hex)
                _ = try await Copies.sync(copy, transport, verify: true)

                let new = try copy.currentReplicaID()
                #expect(new != old)
                let incarnation = try #require(try copy.earlierIncarnations().first)
                #expect(incarnation.forkedAt == Dot(replica: old, counter: 2) && incarnation.reissued == 1)
                let held = try #require(try hub.store.document(Self.key("theirs")))
                #expect(held.siblings.map(\.dot) == [Dot(replica: new, counter: 1)])
                #expect(held.siblings.first?.body == Copies.body("copy"))
                // Taken by the hub, the document is forgotten here; the own version stays in history.
                #expect(try copy.document(Self.key("theirs")) == nil)
                #expect(try copy.history(of: Self.key("theirs")).map(\.version.dot) == [Dot(replica: new, counter: 1)])
                #expect(try copy.document(Self.key("mine"))?.siblings.map(\.dot) == [Dot(replica: old, counter: 2)])
            }
        }
    }
}

/// Carries the exchange to the hub in process and, on the first exchange only, runs `meanwhile`
/// after the hub answered and before the client sees the answer: what another process or the
/// replica's user does while a round is in flight.
final class InterleavingTransport: SyncTransport {
    let inner: InProcessTransport
    private let pending: Mutex<(@Sendable () async throws -> Void)?>

    init(hub: HubExchange, meanwhile: @escaping @Sendable () async throws -> Void) {
        inner = InProcessTransport(hub: hub)
        pending = Mutex(meanwhile)
    }

    func exchange(_ request: SyncRequest) async throws -> TransportReply {
        let reply = try await inner.exchange(request)
        let meanwhile = pending.withLock { hook in
            defer { hook = nil }
            return hook
        }
        try await meanwhile?()
        return reply
    }

    func incarnate(_ request: IncarnationRequest) async throws -> IncarnationResponse {
        try await inner.incarnate(request)
    }
}
