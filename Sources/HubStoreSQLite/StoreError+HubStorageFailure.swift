public import HubStore
public import ReplicaStore

/// The SQLite hub replica's failures.
extension StoreError: HubStorageFailure {
    public var isBusy: Bool { code == .busy }
    public var codeName: String { code.name }
}
