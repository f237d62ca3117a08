public import Foundation
public import Logging
public import ReplicaStore

/// What `syncd run` is made of, as one value: the command reads its flags, the environment and
/// the defaults into it, and ``buildFieldDaemon(configuration:logger:)`` makes the daemon from it.
public struct FieldDaemonConfiguration: Sendable {
    /// The field replica file.
    public var replicaPath: String
    /// How the replica is opened (for an encrypted one, where its passphrase comes from).
    public var storeOptions: ReplicaStore.Options
    /// The hub's URL; nil for `VIGIL_HUB` in ``environment``, else what enrollment saved.
    public var hub: String?
    /// The device credential; nil for `VIGIL_TOKEN` in ``environment``, else what enrollment saved.
    public var token: String?
    /// How the hub is trusted (CA file, pins, plain HTTP allowed).
    public var trust: HubTrust
    /// Seconds without progress before a request fails.
    public var timeoutSeconds: Int
    /// Time between syncs when nothing happens.
    public var interval: Duration
    /// Seconds the connection to the hub is kept open between syncs: the interval and half a
    /// minute, so that a sync on schedule finds it open (unless the hub closed it: its idle
    /// timeout, 150 s by default) and costs no TLS handshake.
    public var keepAliveSeconds: Int {
        Int(min(interval.components.seconds, 3_570)) + 30
    }
    /// The most bytes to move on the wire per UTC day, counted beside the replica; nil for no bound.
    public var bytesPerDay: Int?
    /// Retries of one round trip.
    public var retry: RetryPolicy
    /// Where `VIGIL_HUB` and `VIGIL_TOKEN` are read.
    public var environment: [String: String]

    /// The daemon backs off on its own; one exchange tries each round trip a few times only.
    public static let daemonRetry = RetryPolicy(maxAttempts: 2, baseDelay: .milliseconds(500), maxDelay: .seconds(2))

    public init(
        replicaPath: String, storeOptions: ReplicaStore.Options = ReplicaStore.Options(), hub: String? = nil,
        token: String? = nil, trust: HubTrust = HubTrust(), timeoutSeconds: Int = 30, interval: Duration = .seconds(60),
        bytesPerDay: Int? = nil, retry: RetryPolicy = Self.daemonRetry,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) {
        self.replicaPath = replicaPath
        self.storeOptions = storeOptions
        self.hub = hub
        self.token = token
        self.trust = trust
        self.timeoutSeconds = timeoutSeconds
        self.interval = interval
        self.bytesPerDay = bytesPerDay
        self.retry = retry
        self.environment = environment
    }
}

/// The field device's daemon and what it runs on. Nothing runs until ``daemon`` runs (in a
/// `ServiceGroup`, for graceful shutdown on SIGTERM and SIGINT).
public struct FieldDaemon: Sendable {
    /// The replica, open (an encrypted one unlocked once; the daemon keeps it open).
    public let store: ReplicaStore
    /// The hub and credential it syncs with.
    public let credentials: HubCredentials
    public let synchronizer: Synchronizer
    public let daemon: SyncDaemon
}

/// The composition root of `syncd run` (the hub's is `buildApplication`): opens the replica,
/// resolves the hub and credential (``HubCredentials/resolve(hub:token:trust:store:environment:)``),
/// and wires the transport, the ``Synchronizer`` and the ``SyncDaemon``, which saves the credential
/// after each successful sync. Starts nothing.
///
/// Throws ``StoreError`` when the replica cannot be opened, the passphrase source's error when it
/// cannot be unlocked, and ``SyncClientError`` when no hub or credential is configured.
public func buildFieldDaemon(configuration: FieldDaemonConfiguration, logger: Logger) throws -> FieldDaemon {
    let store = try ReplicaStore.open(at: configuration.replicaPath, options: configuration.storeOptions)
    let credentials = try HubCredentials.resolve(
        hub: configuration.hub, token: configuration.token, trust: configuration.trust, store: store,
        environment: configuration.environment)
    // Refused before the daemon starts, as `fieldcli sync` refuses them: plain HTTP to another
    // machine, a pin that is no digest, an unreadable CA file. Checked only in the transport,
    // each was logged as a failed sync every minute for as long as the daemon ran.
    try credentials.trust.check(credentials.url)
    let synchronizer = Synchronizer(
        store: store,
        transport: credentials.transport(
            timeoutSeconds: configuration.timeoutSeconds, store: store, keepAliveSeconds: configuration.keepAliveSeconds),
        peer: credentials.peerName, configuration: .init(retry: configuration.retry), logger: logger)
    // The credential file as this daemon found it: it saves its own credential only while the
    // file is still that. A new enrollment written meanwhile (`fieldcli enroll` with another
    // hub or code) was put back to the old credential after the next sync, and lost.
    let foundAtStart = try? HubCredentials.savedFile(forReplicaAt: store.path, store: store)
    let daemon = SyncDaemon(
        synchronizer: synchronizer,
        configuration: .init(
            schedule: .init(interval: configuration.interval), bytesPerDay: configuration.bytesPerDay,
            tallyPath: DailyByteTally.path(forReplicaAt: store.path)),
        logger: logger,
        onSuccess: { _ in
            guard (try? HubCredentials.savedFile(forReplicaAt: store.path, store: store)) == foundAtStart else { return }
            do {
                try credentials.saveToken(for: store)
            } catch {
                logger.warning("\(error)")
            }
        })
    return FieldDaemon(store: store, credentials: credentials, synchronizer: synchronizer, daemon: daemon)
}

extension HubCredentials {
    /// A transport to this hub with this credential and trust, speaking from the first request
    /// the protocol the hub answered in at `store`'s last exchange with it.
    /// `keepAliveSeconds` keeps an unused connection open that long for the next request.
    public func transport(timeoutSeconds: Int, store: ReplicaStore, keepAliveSeconds: Int = 15) -> HTTPSyncTransport {
        var configuration = HTTPSyncTransport.Configuration(hub: url, token: token, timeoutSeconds: timeoutSeconds)
        configuration.trust = trust
        configuration.keepAliveSeconds = keepAliveSeconds
        configuration.knownProtocol = try? store.peerState(store.peerName(forHubAt: peerName)).protocolVersion
        configuration.hubKeyPinned = (try? store.trustedHubs().isEmpty == false) ?? false
        return HTTPSyncTransport(configuration: configuration)
    }
}
