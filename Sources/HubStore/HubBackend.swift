public import Logging
public import ReplicaStore

/// A hub's persistence as its composition root builds it (`syncd serve`, a test, a benchmark),
/// every part behind its protocol, so that the exchange and the routes never ask which backend
/// they were given.
public struct HubBackend: Sendable {
    /// The versions, the feed and pushes.
    public var storage: any HubStorage
    /// The enrolled devices, their credentials, keys and grants.
    public var devices: any DeviceRegistry
    /// Where attachments live; nil when this backend keeps none (their routes are then not served).
    public var attachments: (any HubAttachmentStorage)?
    /// The hub's SQLite replica, for what works on the file itself (tests that read its tables);
    /// nothing of the hub's serving asks for it. Nil on any other backend.
    public var replica: SQLiteHubStorage?
    /// The documents' states, versions and resolutions the console's record pages read and write
    /// (conflicts, a document, warnings, observations, exports, the map); nil when this backend
    /// keeps no document states (those pages are then not served).
    public var documents: (any DocumentPages)?
    /// The console's operators and the network's informant key; nil when this backend keeps none
    /// (the console and the informant key's route are then not served).
    public var operators: (any OperatorDirectory)?
    /// What operators change of the device registry (the console's fleet page); nil when none.
    public var administration: (any DeviceAdministrationStorage)?
    /// The hub's audit log (refused requests are written to it); nil when this backend keeps none.
    public var auditLog: (any HubAuditLog)?
    /// Where it keeps its data, for the hub's start-up log line (a file's path, a schema).
    public var location: String

    /// A backend of the given parts, with no SQLite replica, operators or administration.
    public init(
        storage: any HubStorage, devices: any DeviceRegistry = EmptyDeviceRegistry(),
        attachments: (any HubAttachmentStorage)? = nil, location: String = "memory"
    ) {
        self.storage = storage
        self.devices = devices
        self.attachments = attachments
        self.location = location
    }

    /// Every part over the hub's SQLite replica; `devices` replaces its registry when given.
    public static func sqlite(_ storage: SQLiteHubStorage, devices: (any DeviceRegistry)? = nil) -> HubBackend {
        var backend = HubBackend(
            storage: storage, devices: devices ?? SQLiteDeviceRegistry(store: storage.store),
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
    /// device and hour (it replaces the one of `options`; 0: no limit). A device's replica there is
    /// refused (``StoreError/Code/roleMismatch``).
    public static func sqlite(
        path: String, deviceEntriesPerHour: Int, options: ReplicaStore.Options = ReplicaStore.Options(), logger: Logger
    ) throws -> HubBackend {
        var options = options
        options.deviceEntriesPerHour = deviceEntriesPerHour
        return .sqlite(try SQLiteHubStorage.openOrCreate(path: path, options: options, logger: logger))
    }
}
