import HubStore
import HubStoreSQLite
import ReplicaStore
@testable import SyncHub
import Testing

/// The hub words a storage failure through HubStore's `HubStorageFailure`, not the SQLite
/// replica's `StoreError`: the SQLite hub's answers stay what they were.
@Suite("Hub storage failures")
struct HubStorageFailureTests {
    @Test("a busy SQLite hub replica is answered 503 busy, to try again")
    func busy() {
        let error = SyncHubError(translating: StoreError(.busy, "The replica at /tmp/hub.sqlite is busy."))
        #expect(error.code == .busy)
        #expect(error.status == .serviceUnavailable)
        #expect(error.message == "The hub's database is busy; try again in a moment.")
    }

    @Test("another failure of the SQLite hub replica is answered as a storage failure naming its code")
    func failed() {
        let error = SyncHubError(translating: StoreError(.diskFull, "The disk is full."))
        #expect(error.code == .storage)
        #expect(error.message == "The hub's database failed (diskFull); nothing of this exchange was applied.")
    }
}
