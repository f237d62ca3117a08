import HubStore
import Foundation
import Hummingbird
import SyncEngine

/// `GET /v1/informant-key` (with the device credential): the network's informant public key in
/// the hub's signed statement (``InformantKeyStatement``), which a device checks against the hub
/// key it pinned before sealing informant references to it; 404 `not-found` while the hub has none.
struct InformantKeyRoutes {
    let operators: any OperatorDirectory

    /// The routes over the backend's operator directory (SQLite or PostgreSQL); none on a backend
    /// that keeps no informant key.
    init?(_ exchange: HubExchange) {
        guard let operators = exchange.backend.operators else { return nil }
        self.operators = operators
    }

    func add(to router: Router<HubRequestContext>) {
        let operators = self.operators
        router.get("v1/informant-key") { _, _ -> Response in
            guard let statement = try await operators.informantKey() else {
                throw SyncHubError(
                    .notFound, "This hub has no informant key yet; the hub operator makes one.")
            }
            return SyncRoutes<HubRequestContext>.json(try JSONEncoder().encode(statement))
        }
    }
}
