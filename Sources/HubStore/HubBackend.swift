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
    /// The hub's SQLite replica (a `SQLiteHubStorage` of HubStoreSQLite), for what works on the
    /// file itself (tests that read its tables); nothing of the hub's serving asks for it. Nil on
    /// any other backend.
    public var replica: (any HubStorage)?
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
}
