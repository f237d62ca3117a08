public import ReplicaStore
public import SyncEngine

/// What `fieldcli status` shows of syncing: the hub, the last successful sync, what waits to be
/// pushed, and the versions the network rejected with why.
public struct SyncStatus: Sendable, Hashable {
    /// A version the hub rejected, kept here out of its document's state.
    public struct SetAsideVersion: Sendable, Hashable {
        public var dot: Dot
        public var key: DocumentKey
        public var reason: SetAsideReason
    }

    /// The hub's URL; nil when this replica never synced.
    public var hub: String?
    /// When the last exchange succeeded, in milliseconds since 1970.
    public var lastSyncAt: UInt64?
    /// The last failure's sentence, when the last attempt failed.
    public var lastError: String?
    /// Versions the hub is believed to lack.
    public var waitingToPush: Int
    /// About how many bytes their bodies hold.
    public var bytesToPush = 0
    /// How many versions are set aside in all.
    public var setAsideCount: Int
    /// The most recent set-aside versions (at most `limit` of them).
    public var setAside: [SetAsideVersion]
    /// What the hub last said this device may read and write; nil before its first sync.
    public var grants: AccessGrants?
    /// The most recent pulled versions kept apart because they failed verification (at most `limit`).
    public var keptApart: [UnverifiedVersion] = []
    /// The fingerprints of the hub keys this replica pinned, by hub id.
    public var pinnedHubs: [ReplicaID: String] = [:]

    /// Reads the status of `store`'s sync with `hub` (by default the hub it synced with last);
    /// lists at most `limit` set-aside versions.
    public static func load(store: ReplicaStore, hub: String? = nil, limit: Int = 20) throws -> SyncStatus {
        let hub = try hub ?? HubCredentials.savedHub(in: store, successfulOnly: false)
        let peer = try hub.map { try store.peerState($0) }
        let backlog = try store.backlog(missingFrom: peer?.knowledge ?? VersionVector())
        let setAside = try store.setAsideVersions(limit: limit).map {
            SetAsideVersion(dot: $0.version.dot, key: $0.version.key, reason: $0.setAsideReason ?? SetAsideReason(.invalidRecord, ""))
        }
        var status = SyncStatus(
            hub: hub, lastSyncAt: peer?.lastSyncAt, lastError: peer?.lastError, waitingToPush: backlog.versions,
            setAsideCount: try store.status().setAside, setAside: setAside, grants: peer?.grants)
        status.bytesToPush = backlog.bodyBytes
        status.keptApart = try store.unverifiedVersions(limit: limit)
        status.pinnedHubs = try store.trustedHubs().mapValues(\.fingerprint)
        return status
    }
}
