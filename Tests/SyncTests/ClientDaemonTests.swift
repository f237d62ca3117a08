import Foundation
import HubStore
import HubStoreSQLite
import Records
import ReplicaStore
import ServiceLifecycle
import SyncClient
import SyncEngine
import SyncHub
import Synchronization
import Testing
import TestSupport

@Suite("Client daemon")
struct ClientDaemonTests {
    /// Polls `condition` every 50 ms for at most `limit`.
    static func eventually(within limit: Duration, _ condition: () throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if try condition() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return try condition()
    }

    /// A service group running a daemon for `field` over `transport`: a 600 s interval, so a sync
    /// that comes sooner was brought forward by a write (probed 100 ms apart, polled every 50 ms).
    static func daemonGroup(syncing field: ReplicaStore, over transport: any SyncTransport) -> ServiceGroup {
        let daemon = SyncDaemon(
            synchronizer: Synchronizer(
                store: field, transport: transport, peer: "test-hub", configuration: .init(retry: .never, verifySignatures: false),
                logger: silentLogger),
            configuration: .init(
                schedule: .init(
                    interval: .seconds(600), initialBackoff: .milliseconds(200), maxBackoff: .milliseconds(400),
                    writeProbeGap: .milliseconds(100)),
                pollInterval: .milliseconds(50)),
            logger: silentLogger)
        return ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [.init(service: daemon, successTerminationBehavior: .gracefullyShutdownGroup)],
                gracefulShutdownSignals: [], logger: silentLogger))
    }

    @Test("a write made while the hub is down is delivered once it is back, and SIGTERM stops the daemon at once")
    func deliversAfterOutage() async throws {
        try await TemporaryReplica.withFolder { folder in
            let hub = try makeHub(in: folder)
            let hubStore = try #require((hub.storage as? SQLiteHubStorage)?.store)
            let field = try folder.create("field")
            let transport = InProcessTransport(hub: hub)
            let group = Self.daemonGroup(syncing: field, over: transport)
            let running = Task { try await group.run() }

            // A write by another connection (as another process would) is synced soon.
            let writer = try folder.open("field")
            let key = DocumentKey(collection: CollectionName("notes")!, id: DocumentID("first")!)
            let first = try writer.write(WriteIntent(key: key, body: Data(#"{"n":1}"#.utf8)))
            // Bounds are generous: the whole suite runs in parallel on two cores.
            // Bounds are generous: the whole suite (over 400 tests) runs in parallel on two cores.
            let delivered = try await Self.eventually(within: .seconds(60)) { try hubStore.history(of: key).count == 1 }
            let lastError = try field.peerState("test-hub").lastError ?? "none"
            #expect(delivered, "last error: \(lastError)")

            // While the hub is down the write waits; once it is back, it arrives without a restart.
            transport.setDown(true)
            let second = try writer.write(WriteIntent(key: key, body: Data(#"{"n":2}"#.utf8)))
            try await Task.sleep(for: .milliseconds(700))
            #expect(try hubStore.history(of: key).count == 1)
            transport.setDown(false)
            #expect(try await Self.eventually(within: .seconds(60)) {
                try hubStore.document(key)?.state.siblings == [second.dot]
            })
            #expect(first.dot != second.dot)

            let stopping = ContinuousClock.now
            await group.triggerGracefulShutdown()
            try await running.value
            // Its 600 s interval is the alternative: 20 s still proves it stops between transactions.
            #expect(ContinuousClock.now - stopping < .seconds(20), "the daemon stops promptly, between transactions, even on a loaded machine")
        }
    }

    /// Replays the schedule "a write lands after the sync's last read of the replica": the
    /// observer records a report while the sync's last step (here the informant-key check, in the
    /// field an attachment upload of minutes) is still running. The daemon took the counter read
    /// after the sync for sent, so the report waited for the interval (600 s here, 60 s by
    /// default); it must go in the next sync, soon after.
    @Test("a write made while a sync's last step runs is synced soon after, not at the next interval")
    func writeDuringLastStep() async throws {
        try await TemporaryReplica.withFolder { folder in
            let hub = try makeHub(in: folder)
            let hubStore = try #require((hub.storage as? SQLiteHubStorage)?.store)
            let field = try folder.create("field")
            let writer = try folder.open("field")
            let key = DocumentKey(collection: CollectionName("notes")!, id: DocumentID("late")!)
            let transport = WritingDuringKeyCheck(hub: hub) {
                _ = try? writer.write(WriteIntent(key: key, body: Data(#"{"n":1}"#.utf8)))
            }
            let group = Self.daemonGroup(syncing: field, over: transport)
            let running = Task { try await group.run() }

            // Generous: the whole suite runs in parallel on two cores; the interval is 600 s.
            let delivered = try await Self.eventually(within: .seconds(60)) { try hubStore.history(of: key).count == 1 }
            #expect(transport.wrote, "the sync's informant-key check ran and wrote")
            #expect(delivered, "the write made during the sync's last step reached the hub before the interval")

            await group.triggerGracefulShutdown()
            try await running.value
        }
    }
}

/// An in-process link whose informant-key check (the last step of a sync, after its exchanges)
/// runs `duringCheck` once, as a local write landing at that moment would.
final class WritingDuringKeyCheck: SyncTransport, InformantKeyTransport {
    private let link: InProcessTransport
    private let duringCheck: @Sendable () -> Void
    private let done = Mutex(false)

    init(hub: HubExchange, duringCheck: @escaping @Sendable () -> Void) {
        link = InProcessTransport(hub: hub)
        self.duringCheck = duringCheck
    }

    var wrote: Bool { done.withLock { $0 } }

    func exchange(_ request: SyncRequest) async throws -> TransportReply { try await link.exchange(request) }

    func informantKey() async throws -> InformantKeyStatement? {
        let first = done.withLock { done in
            defer { done = true }
            return !done
        }
        if first { duringCheck() }
        return nil
    }
}
