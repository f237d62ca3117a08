import HubStore
import Foundation
import Hummingbird
import ReplicaStore
import SyncEngine

/// `GET /v1/informant-key` (with the device credential): the network's informant public key in
/// the hub's signed statement (``InformantKeyStatement``), which a device checks against the hub
/// key it pinned before sealing informant references to it; 404 `not-found` while the hub has none.
struct InformantKeyRoutes {
    let store: ReplicaStore

    /// The routes over the hub's SQLite replica; none on another backend (it keeps no informant key yet).
    init?(_ exchange: HubExchange) {
        guard let replica = exchange.backend.replica else { return nil }
        store = replica.store
    }

    func add(to router: Router<HubRequestContext>) {
        let store = self.store
        router.get("v1/informant-key") { _, _ -> Response in
            guard let statement = try store.informantKey() else {
                throw SyncHubError(
                    .notFound, "This hub has no informant key yet; an operator makes one with `syncd informant-key init`.")
            }
            return SyncRoutes<HubRequestContext>.json(try JSONEncoder().encode(statement))
        }
    }
}
