import Foundation
import HubStore
import HubStoreSQLite
import Logging
import ReplicaStore
import SyncClient
import SyncEngine
import SyncHub
import Synchronization
import TestSupport

/// A ``SyncTransport`` that carries the exchange to a ``HubExchange`` in process, through the
/// JSON wire form, and can cut the link: before the hub sees the request, or after the hub applied
/// it but before the client sees the answer.
final class InProcessTransport: SyncTransport {
    /// Where a cut happens.
    enum Cut: Sendable {
        case none
        /// The request never reaches the hub.
        case beforeHub
        /// The hub applies the request; the answer is lost.
        case afterHub
    }

    let hub: HubExchange
    private let plan: Mutex<[Cut]>
    private let calls = Mutex(0)
    private let down = Mutex(false)

    /// Takes the hub off the link (every exchange fails as unreachable) or puts it back.
    func setDown(_ isDown: Bool) { down.withLock { $0 = isDown } }

    /// `cuts` are used one per exchange, in order; exchanges beyond them are not cut.
    init(hub: HubExchange, cuts: [Cut] = []) {
        self.hub = hub
        plan = Mutex(cuts)
    }

    /// How many exchanges reached the hub.
    var hubCalls: Int { calls.withLock { $0 } }

    func exchange(_ request: SyncRequest) async throws -> TransportReply {
        let cut = plan.withLock { $0.isEmpty ? Cut.none : $0.removeFirst() }
        if case .beforeHub = cut { throw Self.unreachable }
        if down.withLock({ $0 }) { throw Self.unreachable }
        let requestBytes = try JSONEncoder().encode(request)
        let decoded = try JSONDecoder().decode(SyncRequest.self, from: requestBytes)
        calls.withLock { $0 += 1 }
        let response = try await hub.handle(decoded)
        if case .afterHub = cut { throw Self.unreachable }
        let responseBytes = try JSONEncoder().encode(response)
        return TransportReply(
            response: try JSONDecoder().decode(SyncResponse.self, from: responseBytes),
            bytesSent: requestBytes.count, bytesReceived: responseBytes.count)
    }

    /// The incarnation endpoint in process, through the JSON wire form: with no device (the
    /// exchange is used without credentials), the hub binds nothing and answers the id.
    func incarnate(_ request: IncarnationRequest) async throws -> IncarnationResponse {
        if down.withLock({ $0 }) { throw Self.unreachable }
        let decoded = try JSONDecoder().decode(IncarnationRequest.self, from: try JSONEncoder().encode(request))
        let response = try await hub.incarnate(decoded, device: nil, logger: silentLogger)
        return try JSONDecoder().decode(IncarnationResponse.self, from: try JSONEncoder().encode(response))
    }

    static let unreachable = SyncClientError(
        .unreachable, "The hub at test cannot be reached (cut by the test); local data is kept and will sync later.")
}

/// A logger that drops everything (tests do not bootstrap logging).
let silentLogger = Logger(label: "vigil.test") { _ in SwiftLogNoOpLogHandler() }

/// A hub replica with its exchange, in a test folder.
func makeHub(
    in folder: TemporaryReplica, name: String = "hub", configure: (inout HubConfiguration) -> Void = { _ in }
) throws -> HubExchange {
    let store = try folder.create(name)
    var configuration = HubConfiguration.withoutSignatureChecks
    configure(&configuration)
    return HubExchange(storage: try SQLiteHubStorage(store: store), configuration: configuration, logger: silentLogger)
}
