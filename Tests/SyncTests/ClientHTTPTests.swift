import Foundation
import ReplicaStore
import SyncClient
import SyncEngine
import SyncHub
import Testing
import TestSupport

/// ``HTTPSyncTransport`` against a live hub on 127.0.0.1: gzip both ways, byte accounting,
/// failures mapped to one sentence.
@Suite("Client over HTTP")
struct ClientHTTPTests {
    static let collection = CollectionName("notes")!

    static func transport(_ hub: HubFixture, token: String? = nil) -> HTTPSyncTransport {
        HTTPSyncTransport(configuration: .init(hub: hub.url, token: token ?? hub.token, timeoutSeconds: 30))
    }

    static func synchronizer(_ store: ReplicaStore, _ hub: HubFixture, token: String? = nil) -> Synchronizer {
        Synchronizer(
            store: store, transport: transport(hub, token: token), peer: HubCredentials.peerName(for: hub.url),
            configuration: .init(retry: .never), logger: silentLogger)
    }

    /// A body of about 600 bytes, like an observation.
    static func body(_ index: Int) -> Data {
        let note = String(repeating: "road blocked near the market, several vehicles turned back; ", count: 9)
        return Data(#"{"index":\#(index),"region":"north","note":"\#(note)"}"#.utf8)
    }

    @Test("a push and a pull travel gzipped, and a no-op sync is one small round trip")
    func gzipBothWays() async throws {
        try await HubFixture.withHub { hub in
            try await TemporaryReplica.withReplicas(2) { replicas in
                let (writer, reader) = (replicas[0], replicas[1])
                let writerToken = try await hub.enroll(writer)
                let readerToken = try await hub.enroll(reader)
                var rawBodies = 0
                for index in 0..<50 {
                    let body = Self.body(index)
                    rawBodies += body.count
                    let key = DocumentKey(collection: Self.collection, id: DocumentID("obs-\(index)")!)
                    try writer.write(WriteIntent(key: key, body: body))
                }
                let pushed = try await Self.synchronizer(writer, hub, token: writerToken).run()
                #expect(pushed.versionsPushed == 50)
                #expect(pushed.bytesSent < rawBodies / 3, "the request body was not compressed")

                let pulled = try await Self.synchronizer(reader, hub, token: readerToken).run()
                #expect(pulled.versionsPulled == 50)
                #expect(pulled.bytesReceived < rawBodies / 3, "the answer was not compressed")
                #expect(try reader.status().versions == 50)

                #expect(pulled.unverified == 0, "pulled versions verify against the key directory")
                #expect(try reader.publicKeys()[writer.replicaID] == writer.publicKey)
                let quiet = try await Self.synchronizer(reader, hub, token: readerToken).run()
                #expect(quiet.roundTrips == 1)
                #expect(quiet.isQuiet)
                #expect(quiet.bytesSent + quiet.bytesReceived < 1_024, "a no-op sync cost \(quiet.bytesSent) + \(quiet.bytesReceived) bytes")
            }
        }
    }

    /// Replays "a device syncs again with nothing new, in a new process" (issue 14, the no-op
    /// sync's bytes): the replica remembers that the hub answered in protocol 2, so the next
    /// sync's transport speaks it from its first request, which leaves out the fields at their
    /// defaults, and the answer those its request says.
    @Test("the protocol a hub answered in is remembered with its page, and the next sync's first request speaks it")
    func remembersProtocol() async throws {
        try await HubFixture.withHub { hub in
            try await TemporaryReplica.withReplica { store in
                let token = try await hub.enroll(store)
                try store.write(WriteIntent(key: DocumentKey(collection: Self.collection, id: DocumentID("obs-1")!), body: Self.body(1)))
                let credentials = HubCredentials(url: hub.url, token: token)
                let peer = HubCredentials.peerName(for: hub.url)
                #expect(try store.peerState(peer).protocolVersion == nil)
                #expect(credentials.transport(timeoutSeconds: 30, store: store).negotiatedProtocol == 1)
                let first = Synchronizer(
                    store: store, transport: credentials.transport(timeoutSeconds: 30, store: store), peer: peer,
                    configuration: .init(retry: .never), logger: silentLogger)
                let firstRun = try await first.run()
                #expect(firstRun.versionsPushed == 1)
                #expect(try store.peerState(peer).protocolVersion == 2)

                let transport = credentials.transport(timeoutSeconds: 30, store: store)
                #expect(transport.negotiatedProtocol == 2, "a new process's transport speaks protocol 2 at once")
                let quiet = try await Synchronizer(
                    store: store, transport: transport, peer: peer, configuration: .init(retry: .never), logger: silentLogger
                ).run()
                #expect(quiet.roundTrips == 1 && quiet.isQuiet)
                // Protocol 1 sends 500 to 550 bytes up for the same no-op (measured: vigil-bench, Performance.md).
                #expect(quiet.bytesSent < 450, "the no-op request left out its defaults: \(quiet.bytesSent) bytes up")
                #expect(quiet.bytesReceived < 250, "the no-op answer said only the hub: \(quiet.bytesReceived) bytes down")
                #expect(try store.peerState(peer).protocolVersion == 2)
            }
        }
    }

    @Test("an unknown credential is refused with the hub's reason")
    func unauthorized() async throws {
        try await HubFixture.withHub { hub in
            try await TemporaryReplica.withReplica { store in
                let error = await #expect(throws: SyncClientError.self) {
                    try await Self.synchronizer(store, hub, token: "wrong").run()
                }
                #expect(error?.code == .unauthorized)
                #expect(error?.httpStatus == 401)
                #expect(error?.message.contains("wrong") == false, "the token must not be quoted")
                let lastError = try store.peerState(HubCredentials.peerName(for: hub.url)).lastError
                #expect(lastError == error?.message)
            }
        }
    }

    @Test("an unsupported protocol version names both versions")
    func protocolMismatch() async throws {
        try await HubFixture.withHub { hub in
            let request = SyncRequest(
                protocolVersion: 99, replica: hub.deviceID, counter: 0, checkpoint: nil, push: [])
            let transport = Self.transport(hub)
            let error = await #expect(throws: SyncClientError.self) { try await transport.exchange(request) }
            #expect(error?.code == .protocolMismatch)
            #expect(error?.message.contains("99") == true)
        }
    }

    @Test("a hub that is not listening is unreachable, quickly, after bounded retries")
    func unreachable() async throws {
        let hub = try await HubFixture.start()
        let url = hub.url
        await hub.stop()
        try await TemporaryReplica.withReplica { store in
            let transport = HTTPSyncTransport(configuration: .init(hub: url, token: "t", timeoutSeconds: 2))
            let sync = Synchronizer(
                store: store, transport: transport, peer: url.absoluteString,
                configuration: .init(retry: RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(50), maxDelay: .milliseconds(100))),
                logger: silentLogger)
            let started = ContinuousClock.now
            let error = await #expect(throws: SyncClientError.self) { try await sync.run() }
            #expect(error?.code == .unreachable)
            #expect(error?.message.contains("cannot be reached") == true)
            #expect(ContinuousClock.now - started < .seconds(5))
        }
    }

    @Test("credentials come from flags, then environment, then what was saved after a success")
    func credentials() async throws {
        try await HubFixture.withHub { hub in
            try await TemporaryReplica.withReplica { store in
                #expect(throws: SyncClientError.self) {
                    try HubCredentials.resolve(hub: nil, token: nil, store: store, environment: [:])
                }
                let token = try await hub.enroll(store)
                let fromEnvironment = try HubCredentials.resolve(
                    hub: nil, token: nil, store: store,
                    environment: [HubCredentials.hubEnvironmentKey: hub.url.absoluteString, HubCredentials.tokenEnvironmentKey: token])
                #expect(fromEnvironment.url == hub.url)
                let credentials = try HubCredentials.resolve(hub: hub.url.absoluteString + "/", token: token, store: store, environment: [:])
                try await Synchronizer(
                    store: store, transport: HTTPSyncTransport(configuration: .init(hub: credentials.url, token: credentials.token)),
                    peer: credentials.peerName, logger: silentLogger
                ).run()
                try credentials.saveToken(for: store)
                let attributes = try FileManager.default.attributesOfItem(
                    atPath: HubCredentials.credentialPath(forReplicaAt: store.path))
                #expect((attributes[.posixPermissions] as? Int) == 0o600)
                let saved = try HubCredentials.resolve(hub: nil, token: nil, store: store, environment: [:])
                #expect(saved.peerName == HubCredentials.peerName(for: hub.url))
                #expect(saved.token == token)
                let status = try SyncStatus.load(store: store)
                #expect(status.hub == saved.peerName)
                #expect(status.lastSyncAt != nil)
                #expect(status.waitingToPush == 0)
            }
        }
    }
}
