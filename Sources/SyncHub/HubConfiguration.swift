public import Foundation

/// Everything a hub is configured with, in one place: flags, then environment, then these defaults.
public struct HubConfiguration: Sendable, Hashable {
    /// The bounds the hub puts on one exchange.
    public struct Limits: Sendable, Hashable {
        /// The largest request body on the wire (compressed or not).
        public var maxRequestBytes = 8 << 20
        /// The largest request body once a gzip body is decompressed.
        public var maxDecompressedBytes = 64 << 20
        /// The most versions one push may carry.
        public var maxPushVersions = 5_000
        /// The most versions one pulled page holds, whatever the client asks.
        public var maxPageVersions = 5_000
        /// About the most bytes one pulled page holds, whatever the client asks.
        public var maxPageBytes = 4 << 20
        /// The largest record body accepted; a larger one is quarantined.
        public var maxRecordBytes = 1 << 20
        /// Responses larger than this are gzip-compressed for clients that accept it.
        public var compressAbove = 1_024

        public init() {}
    }

    /// The environment variable naming the hub's database.
    public static let databaseEnvironmentKey = "VIGIL_HUB_DB"
    /// The environment variable holding the bearer token.
    public static let tokenEnvironmentKey = "VIGIL_HUB_TOKEN"

    /// The hub replica's SQLite file.
    public var databasePath = "hub.sqlite"
    /// The address to listen on.
    public var host = "127.0.0.1"
    /// The port to listen on; 0 picks a free one.
    public var port = 8080
    /// The bearer token clients must present; nil means the one kept in ``tokenFilePath``
    /// (generated on first start).
    public var token: String?
    /// The bounds on one exchange.
    public var limits = Limits()

    public init() {}

    /// Where a generated token is kept: next to the database, with mode 0600.
    public var tokenFilePath: String { databasePath + ".token" }

    /// The defaults with the environment applied (`VIGIL_HUB_DB`, `VIGIL_HUB_TOKEN`).
    public static func fromEnvironment(
        _ environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> HubConfiguration {
        var configuration = HubConfiguration()
        if let path = environment[databaseEnvironmentKey], !path.isEmpty { configuration.databasePath = path }
        if let token = environment[tokenEnvironmentKey], !token.isEmpty { configuration.token = token }
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
