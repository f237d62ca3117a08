public import Foundation
public import ReplicaStore

/// Which hub a replica syncs with and the token it presents: from flags, then the environment
/// (`VIGIL_HUB`, `VIGIL_TOKEN`), then what was saved after the last successful exchange (the URL
/// in the replica as the peer's name, the token in `<replica>.credential`, mode 0600).
public struct HubCredentials: Sendable, Hashable {
    /// The environment variable naming the hub's URL.
    public static let hubEnvironmentKey = "VIGIL_HUB"
    /// The environment variable holding the bearer token.
    public static let tokenEnvironmentKey = "VIGIL_TOKEN"

    /// The hub's base URL.
    public var url: URL
    /// The bearer token; never logged or printed.
    public var token: String

    public init(url: URL, token: String) {
        self.url = url
        self.token = token
    }

    /// The name the hub is kept under in the replica: its URL without a trailing slash.
    public var peerName: String { Self.peerName(for: url) }

    /// Where the token of the replica at `replicaPath` is saved.
    public static func credentialPath(forReplicaAt replicaPath: String) -> String { replicaPath + ".credential" }

    /// Resolves the hub and token for `store`; throws ``SyncClientError`` (`notConfigured`) with a
    /// sentence saying what to pass when either is missing or malformed.
    public static func resolve(
        hub: String?, token: String?, store: ReplicaStore,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> HubCredentials {
        let saved = try savedHub(in: store)
        guard let hubText = nonEmpty(hub) ?? nonEmpty(environment[hubEnvironmentKey]) ?? saved else {
            throw SyncClientError(
                .notConfigured,
                "No hub is configured for this replica; pass --hub URL and --token TOKEN once (or set VIGIL_HUB and VIGIL_TOKEN).")
        }
        guard let url = parseURL(hubText) else {
            throw SyncClientError(
                .notConfigured, "The hub address '\(hubText.prefix(100))' is not an http:// or https:// URL; pass --hub http://host:port.")
        }
        let tokenText = nonEmpty(token) ?? nonEmpty(environment[tokenEnvironmentKey])
            ?? savedToken(forReplicaAt: store.path)
        guard let tokenText else {
            throw SyncClientError(
                .notConfigured,
                "No token is configured for the hub at \(peerName(for: url)); pass --token TOKEN once (or set VIGIL_TOKEN); the hub operator gives it out.")
        }
        guard tokenText.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw SyncClientError(.notConfigured, "The token holds spaces or control characters; pass it exactly as the hub operator gave it.")
        }
        return HubCredentials(url: url, token: tokenText)
    }

    /// The hub of the most recent successful exchange kept in `store` (or, unless
    /// `successfulOnly`, of the most recent attempt), if any.
    public static func savedHub(in store: ReplicaStore, successfulOnly: Bool = true) throws -> String? {
        try store.peerStates()
            .filter { parseURL($0.peer) != nil && (!successfulOnly || $0.lastSyncAt != nil) }
            .max { ($0.lastSyncAt ?? 0, $0.peer) < ($1.lastSyncAt ?? 0, $1.peer) }?
            .peer
    }

    /// The token saved for the replica at `replicaPath`, if any.
    public static func savedToken(forReplicaAt replicaPath: String) -> String? {
        guard let data = FileManager.default.contents(atPath: credentialPath(forReplicaAt: replicaPath)) else { return nil }
        return nonEmpty(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Saves the token next to the replica (mode 0600, replaced atomically) unless it is already
    /// there; call it after a successful exchange. The URL is kept by the exchange itself.
    public func saveToken(forReplicaAt replicaPath: String) throws {
        let path = Self.credentialPath(forReplicaAt: replicaPath)
        guard Self.savedToken(forReplicaAt: replicaPath) != token else { return }
        let temporary = path + ".tmp-\(getpid())"
        let fileManager = FileManager.default
        try? fileManager.removeItem(atPath: temporary)
        guard fileManager.createFile(
            atPath: temporary, contents: Data((token + "\n").utf8), attributes: [.posixPermissions: 0o600])
        else {
            throw StoreError(.readOnly, "Cannot write the hub token file \(path); check that its folder is writable.")
        }
        guard rename(temporary, path) == 0 else {
            try? fileManager.removeItem(atPath: temporary)
            throw StoreError(.readOnly, "Cannot write the hub token file \(path); check that its folder is writable.")
        }
    }

    static func parseURL(_ text: String) -> URL? {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = url.host, !host.isEmpty
        else { return nil }
        return url
    }

    /// The name a hub at `url` is kept under: its URL without a trailing slash.
    public static func peerName(for url: URL) -> String {
        var text = url.absoluteString
        while text.hasSuffix("/") { text.removeLast() }
        return text
    }

    private static func nonEmpty(_ text: String?) -> String? {
        guard let text, !text.isEmpty else { return nil }
        return text
    }
}
