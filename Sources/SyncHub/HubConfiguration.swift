public import Foundation
public import SyncEngine
import HubStore

/// Everything a hub is configured with, in one place: flags, then environment, then these defaults.
public struct HubConfiguration: Sendable, Hashable {
    /// The bounds the hub puts on one exchange.
    public struct Limits: Sendable, Hashable {
        /// The largest request body on the wire (compressed or not).
        public var maxRequestBytes = 8 << 20
        /// The largest request body once a gzip body is decompressed: a push is about 512 KiB of
        /// versions, or one record of at most ``maxRecordBytes`` that JSON escaping can grow
        /// sixfold, so 16 MiB leaves room and bounds what one request may inflate to.
        public var maxDecompressedBytes = 16 << 20
        /// The most request-body bytes (on the wire and inflated) the hub holds at once, all requests
        /// together; a request that would go above it is answered 503 `busy` with `Retry-After`.
        public var maxBufferedBodyBytes = 64 << 20
        /// The most open connections; 0 derives it from the open-file limit (three quarters of
        /// what is left after 64 files kept for the database and logs). Above it a new connection
        /// is answered 503 `busy` and closed.
        public var maxConnections = 0
        /// Seconds a connection may stay silent (between requests, or within a request's body)
        /// before the hub closes it. Above a field daemon's interval (60 s by default), so that
        /// `syncd run` keeps its connection from one sync to the next and a no-op sync over HTTPS
        /// costs no TLS handshake (about 3.8 KB on a link paid by the megabyte).
        public var idleTimeoutSeconds = 150
        /// Seconds from the first byte of a request to the end of its head; a slower head closes
        /// the connection.
        public var headerTimeoutSeconds = 10
        /// The most versions one push may carry.
        public var maxPushVersions = 5_000
        /// The most versions one pulled page holds, whatever the client asks.
        public var maxPageVersions = 5_000
        /// About the most bytes one pulled page holds, whatever the client asks.
        public var maxPageBytes = 4 << 20
        /// The most versions one pull looks at to fill a page: a device with a narrow read scope
        /// gets an empty page marked "more" rather than one long scan.
        public var maxScannedPerPage = 50_000
        /// The largest record body accepted; a larger one is quarantined.
        public var maxRecordBytes = 1 << 20
        /// Responses larger than this are gzip-compressed for clients that accept it.
        public var compressAbove = 1_024
        /// The most entries in one version vector (a version's context, the assumed knowledge).
        public var maxVectorEntries = 4_096
        /// The deepest nesting of arrays and objects in one version's body.
        public var maxBodyDepth = 64
        /// The deepest nesting of arrays and objects in the request itself.
        public var maxRequestDepth = 32
        /// Requests one device may make per minute (a token bucket holding a minute's worth);
        /// 0 turns the limit off.
        public var requestsPerMinute = 600
        /// Enrollments the hub takes per minute, from all devices together; 0 turns the limit off.
        public var enrollmentsPerMinute = 30
        /// Enrollments the hub takes per minute from one client address; 0 turns the limit off.
        public var enrollmentsPerAddressPerMinute = 10
        /// Failed authentications one client address may make per minute; above it, every request
        /// with a credential from that address is refused (429) before the credential is looked up.
        /// 0 turns the limit off.
        public var failedAuthenticationsPerMinute = 30
        /// Audit entries one device's syncs may add per hour (quarantined versions, verification
        /// reports), and rows it may add to the foreign quarantine; beyond it they are counted in
        /// one audit entry per hour. 0 turns the limit off.
        public var deviceEntriesPerHour = DeviceEntryLimit.perHourByDefault
        /// The largest attachment a device may upload, in bytes (100 MB): a longer video is refused
        /// with 413 `attachment-too-large` before any of its chunks travels.
        public var maxAttachmentBytes = 100_000_000
        /// The most attachment bytes one device may upload in all (each file counted once, when
        /// first offered); above it 413 `quota-exceeded`. 0 turns the quota off.
        public var deviceMediaQuotaBytes = 2_000_000_000

        /// The structural bounds checked on every decoded request.
        public var message: MessageLimits {
            MessageLimits(maxVectorEntries: maxVectorEntries, maxBodyDepth: maxBodyDepth, maxRequestDepth: maxRequestDepth)
        }

        public init() {}
    }

    /// The environment variable naming the hub's database.
    public static let databaseEnvironmentKey = "VIGIL_HUB_DB"

    /// The hub replica's SQLite file.
    public var databasePath = "hub.sqlite"
    /// The address to listen on.
    public var host = "127.0.0.1"
    /// The port to listen on; 0 picks a free one.
    public var port = 8080
    /// Whether every pushed version's signature is checked against its origin's enrolled key
    /// (a version that fails is quarantined). Off only to measure what verification costs.
    public var verifySignatures = true
    /// The bounds on one exchange.
    public var limits = Limits()
    /// The certificate and key to serve HTTPS with; nil serves plain HTTP.
    public var tls: TLSFiles?
    /// How often refused enrollments and failed authentications are written to the audit log,
    /// one entry per client address and kind with the count since the last one.
    public var refusalAuditInterval: Duration = .seconds(60)
    /// The highest sync protocol version the hub answers in (``SyncProtocol/current`` unless a
    /// test plays a hub of an earlier release: at 1 the hub neither reads nor writes protocol 2
    /// frames, as a hub before protocol 2 did).
    public var maxProtocol = SyncProtocol.current
    /// The highest revision of the protocol 2 answer the hub writes (``SyncFrame/answerRevision``
    /// unless a test plays a hub of an earlier release: at 1 it ignores the `rev` a client offers).
    public var maxAnswerRevision = SyncFrame.answerRevision

    public init() {}

    /// The defaults with the environment applied (`VIGIL_HUB_DB`).
    public static func fromEnvironment(
        _ environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> HubConfiguration {
        var configuration = HubConfiguration()
        if let path = environment[databaseEnvironmentKey], !path.isEmpty { configuration.databasePath = path }
        configuration.applyLimitsAndTLS(environment: environment)
        return configuration
    }

    /// Parses `HOST:PORT` (or `[IPv6]:PORT`, or `:PORT` for the default host); nil when malformed.
    public static func parseListenAddress(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (0...65_535).contains(port)
        else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host.isEmpty { host = HubConfiguration().host }
        return (host, port)
    }
}
