public import HubStore
public import Logging
public import ReplicaStore

/// The SQLite backend's composition: every part of a ``HubBackend`` over the hub's replica file.
extension HubBackend {
    /// Every part over the hub's SQLite replica; `devices` replaces its registry when given.
    public static func sqlite(_ storage: SQLiteHubStorage, devices: (any DeviceRegistry)? = nil) -> HubBackend {
        var backend = HubBackend(
            storage: storage,
            devices: devices ?? SQLiteDeviceRegistry(store: storage.store, deviceEntriesPerHour: storage.deviceEntriesPerHour),
            attachments: SQLiteHubAttachmentStorage(store: storage.store), location: "sqlite:\(storage.store.path)")
        backend.replica = storage
        backend.documents = SQLiteDocumentPages(store: storage.store, writer: storage.writer)
        backend.auditLog = SQLiteHubAuditLog(store: storage.store)
        backend.operators = SQLiteOperatorDirectory(store: storage.store)
        backend.administration = SQLiteDeviceAdministration(store: storage.store)
        return backend
    }

    /// Every part over the SQLite hub replica at `path`, created (with its folder) when missing, as
    /// `PostgresHub.withHub` composes a schema: at most `deviceEntriesPerHour` audit entries per
    /// device and hour (0: no limit). A device's replica there is refused
    /// (``StoreError/Code/roleMismatch``).
    public static func sqlite(
        path: String, deviceEntriesPerHour: Int, options: ReplicaStore.Options = ReplicaStore.Options(), logger: Logger
    ) throws -> HubBackend {
        .sqlite(
            try SQLiteHubStorage.openOrCreate(
                path: path, options: options, deviceEntriesPerHour: deviceEntriesPerHour, logger: logger))
    }
}
