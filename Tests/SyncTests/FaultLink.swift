import Foundation
import HubStore
import HubStoreSQLite
import ReplicaStore
import SyncClient
import SyncEngine
import SyncHub
import Synchronization
import TestSupport

/// The hub of a fault schedule: one SQLite hub replica whose exchange can be dropped (a kill -9 of
/// `syncd serve`) and opened again from its file, perhaps after the file was replaced by a backup.
final class HubSlot: Sendable {
    let path: String
    let options: ReplicaStore.Options
    private let exchange: Mutex<HubExchange?>

    /// Opens (or creates) the hub replica at `path`.
    init(path: String, options: ReplicaStore.Options) throws {
        self.path = path
        self.options = options
        exchange = Mutex(try Self.open(path: path, options: options))
    }

    static func open(path: String, options: ReplicaStore.Options) throws -> HubExchange {
        try HubExchange.sqlite(path: path, configuration: HubConfiguration(), options: options, logger: silentLogger)
    }

    /// The running hub; throws when it is down (between a drop and a reopen).
    func current() throws -> HubExchange {
        guard let hub = exchange.withLock({ $0 }) else { throw InProcessTransport.unreachable }
        return hub
    }

    /// The hub replica's store (for the operator's commands and the checks).
    func store() throws -> ReplicaStore {
        guard let store = (try current().storage as? SQLiteHubStorage)?.store else {
            throw StoreError(.io, "the fault schedule's hub is not a SQLite hub")
        }
        return store
    }

    /// Drops the running hub: its database connections close once nothing uses them.
    func drop() { exchange.withLock { $0 = nil } }

    /// Opens the hub again from its file.
    func reopen() throws {
        drop()
        let hub = try Self.open(path: path, options: options)
        exchange.withLock { $0 = hub }
    }
}

/// What happens to one exchange (or incarnation request) of a device's link.
enum LinkFault: Sendable, CustomStringConvertible {
    case none
    /// The request never reaches the hub.
    case cutBeforeHub
    /// The hub applies the request; the answer is lost.
    case cutAfterHub
    /// The client process dies before the request leaves (kill -9: nothing more is committed).
    case killBeforeHub
    /// The client process dies after the hub applied the request, before the answer is committed.
    case killAfterHub

    var description: String {
        switch self {
        case .none: "-"
        case .cutBeforeHub: "cut<"
        case .cutAfterHub: "cut>"
        case .killBeforeHub: "kill<"
        case .killAfterHub: "kill>"
        }
    }
}

/// The death of the client process in the middle of a sync: the run stops where it is and nothing
/// more is committed, as after a kill -9 (every store step is its own transaction).
struct ClientKilled: Error {}

/// A device's link to the fault schedule's hub: its credential (so the hub applies its grants and
/// binds its incarnations), the JSON wire form both ways, and a plan of faults, one per request.
final class FaultLink: SyncTransport {
    let hub: HubSlot
    let credential: DeviceCredential
    private let plan: Mutex<[LinkFault]>

    init(hub: HubSlot, credential: DeviceCredential, faults: [LinkFault] = []) {
        self.hub = hub
        self.credential = credential
        plan = Mutex(faults)
    }

    private func nextFault() -> LinkFault {
        plan.withLock { $0.isEmpty ? LinkFault.none : $0.removeFirst() }
    }

    private static func strike(_ fault: LinkFault, beforeHub: Bool) throws {
        switch (fault, beforeHub) {
        case (.cutBeforeHub, true), (.cutAfterHub, false): throw InProcessTransport.unreachable
        case (.killBeforeHub, true), (.killAfterHub, false): throw ClientKilled()
        default: return
        }
    }

    private func device(at exchange: HubExchange) async throws -> DeviceRecord {
        guard let device = try await exchange.devices.device(presenting: credential) else {
            throw SyncClientError(.unauthorized, "the hub does not know this device's credential")
        }
        return device
    }

    func exchange(_ request: SyncRequest) async throws -> TransportReply {
        let fault = nextFault()
        try Self.strike(fault, beforeHub: true)
        let exchange = try hub.current()
        let sent = try JSONEncoder().encode(request)
        let response: SyncResponse
        do {
            response = try await exchange.handle(
                try JSONDecoder().decode(SyncRequest.self, from: sent), device: try await device(at: exchange), logger: silentLogger)
        } catch let error as SyncHubError where error.code == .unknownIncarnation {
            // As HTTPSyncTransport reads the problem type.
            throw SyncClientError(.unboundIncarnation, error.message, httpStatus: 403)
        }
        try Self.strike(fault, beforeHub: false)
        let received = try JSONEncoder().encode(response)
        return TransportReply(
            response: try JSONDecoder().decode(SyncResponse.self, from: received), bytesSent: sent.count,
            bytesReceived: received.count)
    }

    func incarnate(_ request: IncarnationRequest) async throws -> IncarnationResponse {
        let fault = nextFault()
        try Self.strike(fault, beforeHub: true)
        let exchange = try hub.current()
        let decoded = try JSONDecoder().decode(IncarnationRequest.self, from: try JSONEncoder().encode(request))
        let response = try await exchange.incarnate(decoded, device: try await device(at: exchange), logger: silentLogger)
        try Self.strike(fault, beforeHub: false)
        return try JSONDecoder().decode(IncarnationResponse.self, from: try JSONEncoder().encode(response))
    }
}
