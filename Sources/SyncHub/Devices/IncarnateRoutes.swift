import Foundation
import Hummingbird
public import Logging
public import HubStore
public import SyncEngine

/// `POST /v1/incarnate` (with the device credential): a device whose replica forked binds a new
/// replica id to its enrollment, and goes on syncing as that id.
struct IncarnateRoutes {
    let exchange: HubExchange

    /// The largest incarnation request read: room for ``IncarnationRequest/maxReissuing`` probes.
    static let maxBodyBytes = 256 << 10

    func add(to router: Router<HubRequestContext>) {
        let exchange = self.exchange
        router.post("v1/incarnate") { request, context -> Response in
            let incarnation = try await SyncRoutes<HubRequestContext>.decode(
                IncarnationRequest.self, from: request, upTo: Self.maxBodyBytes, named: "incarnation request")
            guard let device = context.device else {
                throw SyncHubError(.unauthorized, "This hub requires a device credential.")
            }
            let answer = try await exchange.incarnate(incarnation, device: device, logger: context.logger)
            return SyncRoutes<HubRequestContext>.json(try JSONEncoder().encode(answer))
        }
    }
}

extension HubExchange {
    /// Binds a new incarnation of `device` (see ``IncarnationRequest``). Without a device (an
    /// exchange used in process, with no registry), nothing is bound and the answer only names
    /// the id. Throws ``SyncHubError`` (`already-enrolled` when the id is in use, `forbidden`
    /// when the device is not active) with a sentence the device shows.
    public func incarnate(
        _ request: IncarnationRequest, device: DeviceRecord?, logger: Logger
    ) async throws -> IncarnationResponse {
        if let fork = request.forkedAt, !(1...Dot.maxCounter).contains(fork.counter) {
            throw SyncHubError(
                .malformedRequest, "forkedAt.counter \(fork.counter) is not a counter: counters run from 1 to \(Dot.maxCounter).")
        }
        let probes = request.reissuing ?? []
        if probes.count > IncarnationRequest.maxReissuing {
            throw SyncHubError(
                .malformedRequest,
                "The request names \(probes.count) versions to re-issue; at most \(IncarnationRequest.maxReissuing) are looked up.")
        }
        guard let device else {
            return IncarnationResponse(replica: request.replica, name: "", incarnations: [request.replica])
        }
        switch try await devices.incarnate(device, as: request.replica, forkedAt: request.forkedAt) {
        case .bound(let name, let incarnations):
            logger.notice(
                "device took a new incarnation",
                metadata: [
                    "device.name": "\(name)", "device.replica": "\(device.replicaID.hex)",
                    "device.incarnation": "\(request.replica.hex)",
                    "device.forkedAt": "\(request.forkedAt.map(\.description) ?? "-")",
                ])
            return IncarnationResponse(
                replica: request.replica, name: name, incarnations: incarnations,
                reissuedEarlier: try await reissuedEarlier(probes, by: incarnations, request: request))
        case .taken:
            throw SyncHubError(
                .alreadyEnrolled, "Replica id \(request.replica.short) is already in use at this hub; take another random id.")
        case .unknownDevice:
            throw SyncHubError(.forbidden, "This device is not active at this hub; it cannot take a new incarnation.")
        case .tooMany(let limit):
            throw SyncHubError(
                .forbidden,
                "This device has taken \(limit) incarnations at this hub, the most it may; an operator enrolls it anew.")
        }
    }

    /// What other ids of the device (neither the forked one nor the new one) already re-issued of
    /// `probes`: a replica restored from a backup older than an incarnation it took is about to
    /// re-issue versions that incarnation re-issued before. Nil without probes.
    ///
    /// The read scope does not filter them: they are versions this device wrote itself, of a
    /// document and time it names, and it holds their content already (it takes one only when
    /// equal to its own version). A device whose read scope no longer covers its own report would
    /// otherwise give the network that report a second time.
    private func reissuedEarlier(
        _ probes: [ReissueProbe], by incarnations: [ReplicaID], request: IncarnationRequest
    ) async throws -> [Version]? {
        guard !probes.isEmpty else { return nil }
        var origins = Set(incarnations)
        origins.remove(request.replica)
        if let fork = request.forkedAt { origins.remove(fork.replica) }
        return try await storage.versions(from: origins, matching: probes)
    }
}
