import Foundation
import HubStore
import Hummingbird
import HummingbirdTesting
import ReplicaStore
import Synchronization
import SyncEngine
import SyncHub
import Testing
import TestSupport

/// A hub storage that holds every push for a while, so a test can shut the hub down mid-exchange.
final class SlowHubStorage: HubStorage {
    let base: any HubStorage
    let delay: Duration
    let started = Mutex(0)

    init(_ base: any HubStorage, delay: Duration) {
        self.base = base
        self.delay = delay
    }

    var hubID: ReplicaID { base.hubID }
    var hubKey: PublicDeviceKey { base.hubKey }
    var receiptKey: AdmissionReceiptKey { base.receiptKey }

    func take(_ push: PushPlan) async throws -> PushReport {
        started.withLock { $0 += 1 }
        try await Task.sleep(for: delay)
        return try await base.take(push)
    }

    func page(_ query: PageQuery) async throws -> FeedPage { try await base.page(query) }

    func versions(at dots: [Dot]) async throws -> [Version] { try await base.versions(at: dots) }

    func versions(from origins: Set<ReplicaID>, matching probes: [ReissueProbe]) async throws -> [Version] {
        try await base.versions(from: origins, matching: probes)
    }

    func authors(among origins: Set<ReplicaID>, within scope: Scope) async throws -> Set<ReplicaID> {
        try await base.authors(among: origins, within: scope)
    }
}

@Suite("Hub shutdown")
struct HubShutdownTests {
    @Test func gracefulShutdownLetsTheExchangeInFlightFinish() async throws {
        let folder = try TemporaryReplica()
        defer { withExtendedLifetime(folder) {} }
        let a = try folder.create("a")
        let key = DocumentKey(collection: try #require(CollectionName("notes")), id: try #require(DocumentID("x")))
        let version = try a.write(WriteIntent(key: key, body: Data(#"{"title":"in flight"}"#.utf8)))
        let request = SyncRequest(replica: a.replicaID, counter: 1, checkpoint: nil, push: [version])

        let slow = Mutex<SlowHubStorage?>(nil)
        let hub = try await HubFixture.start(wrapStorage: { base in
            let storage = SlowHubStorage(base, delay: .seconds(1))
            slow.withLock { $0 = storage }
            return storage
        })
        let storage = try #require(slow.withLock { $0 })
        let client = TestClient(host: "127.0.0.1", port: hub.port, configuration: .init(timeout: .seconds(30)))
        client.connect()
        let body = ByteBuffer(bytes: try JSONEncoder().encode(request))
        let token = try await hub.enroll(a)
        let inFlight = Task {
            try await client.post(
                "/v1/sync", headers: [.authorization: "Bearer \(token)", .contentType: "application/json"], body: body)
        }
        // Wait (bounded) until the hub is inside the exchange, then ask it to stop.
        for _ in 0..<500 where storage.started.withLock({ $0 }) == 0 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(storage.started.withLock { $0 } == 1)
        let stopping = Task { await hub.stop() }

        let response = try await inFlight.value
        #expect(response.status == .ok)
        let answer = try JSONDecoder().decode(SyncResponse.self, from: Data(try #require(response.body).readableBytesView))
        #expect(answer.accepted == 1)
        try? await client.shutdown()
        await stopping.value
    }
}
