import Foundation
import Logging
import ReplicaStore
import SyncEngine
public import Records

/// A link that can fetch the network's informant key statement from the hub.
public protocol InformantKeyTransport: Sendable {
    /// The hub's signed statement of the informant key, nil while the hub has none. Throws
    /// ``SyncClientError`` for failures of the hub or the link.
    func informantKey() async throws -> InformantKeyStatement?
}

extension HTTPSyncTransport: InformantKeyTransport {
    /// `GET <hub>/v1/informant-key`.
    public func informantKey() async throws -> InformantKeyStatement? {
        try configuration.trust.check(configuration.hub)
        let url = configuration.endpoint.deletingLastPathComponent().appendingPathComponent("informant-key")
        var request = HubRequest(post: Data(), to: url, userAgent: configuration.userAgent, token: configuration.token)
        request.method = .GET
        request.headers.remove(name: "Content-Type")
        let answer = try await client.send(request, hub: configuration.hub.absoluteString)
        if answer.status == 404 { return nil }
        guard answer.status == 200 else {
            throw Self.failure(status: answer.status, body: answer.body, hub: configuration.hub.absoluteString)
        }
        do {
            return try JSONDecoder().decode(InformantKeyStatement.self, from: answer.body)
        } catch {
            throw SyncClientError(
                .badAnswer, "The hub at \(configuration.hub.absoluteString) sent an informant key this program cannot read.",
                httpStatus: 200)
        }
    }
}

extension Synchronizer {
    /// How often a replica without the informant key asks its hub for it: 6 hours, so that a hub
    /// without one does not cost every no-op sync a second request. A write refused for the want
    /// of the key makes the next sync ask at once (``ReplicaStore/clearInformantKeyChecks()``).
    static let informantKeyCheckInterval: UInt64 = 6 * 3_600_000

    /// After a sync: fetches the network's informant key when this replica has none (at most
    /// every ``informantKeyCheckInterval``), and keeps it only when signed by the hub key pinned
    /// at enrollment. A failure here never fails the sync (it is logged; a later sync asks again).
    func fetchInformantKey() async {
        guard let transport = transport as? any InformantKeyTransport,
            (try? store.informantKeyCheckIsDue(peer: peer, interval: Self.informantKeyCheckInterval)) == true
        else { return }
        try? store.noteInformantKeyCheck(peer: peer)
        do {
            guard let statement = try await transport.informantKey() else { return }
            try store.saveInformantKey(statement)
            logger.notice("informant key received", metadata: ["sync.peer": "\(peer)", "informant.key": "\(statement.publicKey.keyID)"])
        } catch {
            logger.warning(
                "informant key not taken", metadata: ["sync.peer": "\(peer)", "error": "\(String(describing: error))"])
        }
    }
}
