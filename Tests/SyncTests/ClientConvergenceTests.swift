import Foundation
import HubStore
import HubStoreSQLite
import ReplicaStore
import SyncClient
import SyncEngine
import SyncHub
import Testing
import TestSupport

/// The convergence simulation: several replicas write, delete and resolve at random and sync at
/// random over a link that is cut before the hub, after the hub applied the push, and between
/// pages; in the end every replica equals the hub and no written version is lost.
@Suite("Client convergence")
struct ClientConvergenceTests {
    static let collection = CollectionName("notes")!

    @Test("random writes and cut syncs converge", arguments: propertySeeds)
    func converges(seed: UInt64) async throws {
        try await TemporaryReplica.withFolder { folder in
            var random = SeededGenerator(seed: seed)
            let hub = try makeHub(in: folder)
            let hubStore = try #require((hub.storage as? SQLiteHubStorage)?.store)
            let replicas = try folder.create(count: 3)
            let keys = (0..<5).map { DocumentKey(collection: Self.collection, id: DocumentID("d\($0)")!) }
            var written: [Version] = []

            for step in 0..<80 {
                let replica = replicas[Int.random(in: 0..<replicas.count, using: &random)]
                if Double.random(in: 0..<1, using: &random) < 0.6 {
                    let key = keys[Int.random(in: 0..<keys.count, using: &random)]
                    if let version = try Self.randomWrite(to: replica, key: key, step: step, using: &random) {
                        written.append(version)
                    }
                } else {
                    try await Self.randomSync(replica, hub: hub, using: &random)
                }
            }

            // Sync everyone until a whole pass moves nothing.
            var quietPasses = 0
            for _ in 0..<10 where quietPasses < 1 {
                var quiet = true
                for replica in replicas {
                    let summary = try await Self.synchronizer(replica, InProcessTransport(hub: hub)).run()
                    if !summary.isQuiet { quiet = false }
                }
                quietPasses = quiet ? quietPasses + 1 : 0
            }
            #expect(written.count > 20)
            #expect(quietPasses == 1, "seed \(seed): the replicas did not become quiet")

            for key in keys {
                let expected = try hubStore.document(key)
                for replica in replicas {
                    let actual = try replica.document(key)
                    #expect(actual?.state == expected?.state, "seed \(seed): \(key) differs on \(replica.replicaID.short)")
                    #expect(actual?.siblings == expected?.siblings, "seed \(seed): siblings of \(key) differ")
                }
            }
            for version in written {
                let history = try hubStore.history(of: version.key)
                let held = history.first { $0.version.dot == version.dot }
                #expect(held?.version == version, "seed \(seed): \(version.dot) is not in the hub's history")
                #expect(held?.setAsideReason == nil)
                let state = try #require(try hubStore.document(version.key)).state
                #expect(state.siblings.contains(version.dot) || state.context.contains(version.dot))
            }
            for replica in replicas {
                #expect(try replica.integrityProblems().isEmpty)
                #expect(try replica.status().versions == hubStore.status().versions)
            }
        }
    }

    @Test("two syncs of one replica at once are safe")
    func concurrentSyncs() async throws {
        try await TemporaryReplica.withFolder { folder in
            let hub = try makeHub(in: folder)
            let hubStore = try #require((hub.storage as? SQLiteHubStorage)?.store)
            let first = try folder.create("field")
            let second = try folder.open("field")
            let other = try folder.create("other")
            for index in 0..<40 {
                let key = DocumentKey(collection: Self.collection, id: DocumentID("o\(index)")!)
                try other.write(WriteIntent(key: key, partition: nil, body: Data(#"{"n":\#(index)}"#.utf8)))
                let mine = DocumentKey(collection: Self.collection, id: DocumentID("m\(index)")!)
                try first.write(WriteIntent(key: mine, partition: nil, body: Data(#"{"n":\#(index)}"#.utf8)))
            }
            try await Self.synchronizer(other, InProcessTransport(hub: hub)).run()
            let small = Synchronizer.Configuration(
                pageLimits: PageLimits(versions: 3, bytes: 1 << 20), pushVersions: 4, retry: .never, verifySignatures: false)
            async let a = Synchronizer(
                store: first, transport: InProcessTransport(hub: hub), peer: "test-hub", configuration: small,
                logger: silentLogger
            ).run()
            async let b = Synchronizer(
                store: second, transport: InProcessTransport(hub: hub), peer: "test-hub", configuration: small,
                logger: silentLogger
            ).run()
            _ = try await (a, b)
            try await Self.synchronizer(other, InProcessTransport(hub: hub)).run()
            #expect(try hubStore.status().versions == 80)
            #expect(try first.status().versions == 80)
            #expect(try other.status().versions == 80)
            #expect(try first.integrityProblems().isEmpty)
            let peer = try first.peerState("test-hub")
            #expect(try first.countVersions(missingFrom: peer.knowledge) == 0)
        }
    }

    // MARK: - Steps

    static func synchronizer(
        _ store: ReplicaStore, _ transport: InProcessTransport, limits: PageLimits = PageLimits(), pushVersions: Int = 1_000
    ) -> Synchronizer {
        Synchronizer(
            store: store, transport: transport, peer: "test-hub",
            configuration: Synchronizer.Configuration(
                pageLimits: limits, pushVersions: pushVersions, retry: .never, verifySignatures: false),
            logger: silentLogger)
    }

    /// A random sync: tiny pages and pushes sometimes, and a link cut now and then, before the hub or
    /// after it applied the push.
    static func randomSync(_ replica: ReplicaStore, hub: HubExchange, using random: inout SeededGenerator) async throws {
        var cuts: [InProcessTransport.Cut] = []
        let roll = Int.random(in: 0..<4, using: &random)
        if roll > 0 {
            cuts = Array(repeating: .none, count: Int.random(in: 0..<4, using: &random))
            cuts.append(roll == 1 ? .beforeHub : .afterHub)
        }
        let tiny = Bool.random(using: &random)
        let limits = tiny ? PageLimits(versions: Int.random(in: 1...3, using: &random), bytes: 1 << 20) : PageLimits()
        let sync = synchronizer(
            replica, InProcessTransport(hub: hub, cuts: cuts), limits: limits, pushVersions: tiny ? 2 : 1_000)
        do {
            try await sync.run()
        } catch let error as SyncClientError where error.code == .unreachable {
            // The cut: the next sync carries on.
        }
    }

    /// A random write to `key`: create, edit, delete, or resolve when in conflict; nil when nothing fits.
    static func randomWrite(
        to replica: ReplicaStore, key: DocumentKey, step: Int, using random: inout SeededGenerator
    ) throws -> Version? {
        let body = Data(#"{"step":\#(step),"by":"\#(replica.replicaID.short)"}"#.utf8)
        guard let document = try replica.document(key) else {
            return try replica.write(WriteIntent(key: key, partition: nil, body: body))
        }
        if document.isConflicted {
            let delete = Int.random(in: 0..<5, using: &random) == 0
            return try replica.write(WriteIntent(key: key, body: delete ? nil : body, isResolution: true))
        }
        let delete = !document.isDeleted && Int.random(in: 0..<4, using: &random) == 0
        return try replica.write(WriteIntent(key: key, body: delete ? nil : body))
    }
}
