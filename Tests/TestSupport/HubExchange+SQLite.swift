public import HubStore
public import HubStoreSQLite
public import Logging
public import ReplicaStore
public import SyncHub

/// The tests' shorthands for a hub over a SQLite replica (`syncd serve` composes it with
/// `HubBackend.sqlite(path:deviceEntriesPerHour:options:logger:)`, as it composes a PostgreSQL hub).
extension HubExchange {
    /// An exchange over the hub's SQLite replica: its registry unless `devices` is given.
    public init(
        storage: SQLiteHubStorage, configuration: HubConfiguration, devices: (any DeviceRegistry)? = nil,
        metrics: HubMetrics = HubMetrics(), logger: Logger
    ) {
        self.init(backend: .sqlite(storage, devices: devices), configuration: configuration, metrics: metrics, logger: logger)
    }

    /// An exchange over the SQLite hub replica at `path` (created when missing), with the audit
    /// limit of `configuration`.
    public static func sqlite(
        path: String, configuration: HubConfiguration = HubConfiguration(),
        options: ReplicaStore.Options = ReplicaStore.Options(), logger: Logger
    ) throws -> HubExchange {
        let backend = try HubBackend.sqlite(
            path: path, deviceEntriesPerHour: configuration.limits.deviceEntriesPerHour, options: options, logger: logger)
        return HubExchange(backend: backend, configuration: configuration, logger: logger)
    }
}

extension DeviceAdministration {
    /// The administration of the hub's SQLite replica `store`.
    public init(store: ReplicaStore) { self.init(storage: SQLiteDeviceAdministration(store: store)) }
}
