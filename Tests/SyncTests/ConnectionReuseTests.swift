import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SyncClient
import SyncEngine
import Synchronization
import Testing
import TestSupport

/// Whether the client keeps its connection to the hub from one sync to the next: over HTTPS a new
/// connection costs a TLS handshake, about 3.8 KB of a no-op sync's 4.4 KB (issue 14, measured
/// through a counting proxy), on a link paid by the megabyte.
@Suite("Connection reuse")
struct ConnectionReuseTests {
    /// A request context that knows the client's port: one port, one connection.
    struct PortContext: RequestContext {
        var coreContext: CoreRequestContextStorage
        let clientPort: Int

        init(source: ApplicationRequestContextSource) {
            coreContext = .init(source: source)
            clientPort = source.channel.remoteAddress?.port ?? 0
        }
    }

    /// Answers every sync request as a hub with nothing new would, and records the client's port.
    static func withHub(_ body: (URL, @Sendable () -> Set<Int>) async throws -> Void) async throws {
        let ports = Mutex(Set<Int>())
        let hubID = ReplicaID.random()
        let router = Router(context: PortContext.self)
        router.post("v1/sync") { request, context -> Response in
            ports.withLock { _ = $0.insert(context.clientPort) }
            let syncRequest = try JSONDecoder().decode(SyncRequest.self, from: Data(try await request.body.collect(upTo: 1 << 20).readableBytesView))
            let response = SyncResponse(
                protocolVersion: 1, hub: hubID, knowledge: [:], accepted: 0, rejected: [], versions: [],
                checkpoint: syncRequest.checkpoint ?? "0", more: false)
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: try JSONEncoder().encode(response))))
        }
        try await LoopbackRouter.serve(router) { url in try await body(url, { ports.withLock { $0 } }) }
    }

    static func exchange(_ transport: HTTPSyncTransport) async throws {
        _ = try await transport.exchange(SyncRequest(protocolVersion: 1, replica: .random(), counter: 0, checkpoint: nil, push: []))
    }

    /// Replays the schedule "syncd run syncs every interval with nothing new over HTTPS": the
    /// client dropped its connection 15 s after a sync whatever the interval (60 s by default), so
    /// every sync paid a new TLS handshake. `syncd run` keeps it for the interval and half a minute.
    @Test("syncd run keeps its connection from one sync to the next, beyond 15 s")
    func daemonKeepsItsConnection() async throws {
        let daemon = FieldDaemonConfiguration(replicaPath: "unused", interval: .seconds(17))
        #expect(daemon.keepAliveSeconds == 47)
        #expect(FieldDaemonConfiguration(replicaPath: "unused").keepAliveSeconds == 90, "the default 60 s interval")
        try await Self.withHub { url, ports in
            var configuration = HTTPSyncTransport.Configuration(hub: url, token: "t", timeoutSeconds: 10)
            configuration.keepAliveSeconds = daemon.keepAliveSeconds
            let transport = HTTPSyncTransport(configuration: configuration)
            try await Self.exchange(transport)
            try await Task.sleep(for: .seconds(17))
            try await Self.exchange(transport)
            #expect(ports().count == 1, "one connection for both syncs: \(ports())")
        }
    }

    @Test("a connection unused longer than the keep-alive is closed, and the next request opens another")
    func shortKeepAliveOpensAnother() async throws {
        try await Self.withHub { url, ports in
            var configuration = HTTPSyncTransport.Configuration(hub: url, token: "t", timeoutSeconds: 10)
            configuration.keepAliveSeconds = 1
            let transport = HTTPSyncTransport(configuration: configuration)
            try await Self.exchange(transport)
            try await Task.sleep(for: .seconds(3))
            try await Self.exchange(transport)
            #expect(ports().count == 2, "\(ports())")
        }
    }
}
