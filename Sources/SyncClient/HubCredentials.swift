public import Foundation
public import ReplicaStore

/// Which hub a replica syncs with and the device credential it presents: from flags, then the
/// environment (`VIGIL_HUB`, `VIGIL_TOKEN`), then what was saved (the URL of the last successful
/// exchange in the replica as the peer's name; the credential and the hub it was enrolled with in
/// `<replica>.credential`, mode 0600, written by `fieldcli enroll`).
public struct HubCredentials: Sendable, Hashable {
    /// The environment variable naming the hub's URL.
    public static let hubEnvironmentKey = "VIGIL_HUB"
    /// The environment variable holding the device credential.
    public static let tokenEnvironmentKey = "VIGIL_TOKEN"

    /// The hub's base URL.
    public var url: URL
    /// The device's bearer credential; never logged or printed.
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
        let saved = try savedHub(in: store) ?? savedFile(forReplicaAt: store.path)?.hub
        guard let hubText = nonEmpty(hub) ?? nonEmpty(environment[hubEnvironmentKey]) ?? saved else {
            throw SyncClientError(
                .notConfigured,
                "No hub is configured for this replica; enroll it once with `fieldcli enroll --hub URL --code CODE` (the hub operator gives out codes).")
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
                "This replica holds no credential for the hub at \(peerName(for: url)); enroll it with `fieldcli enroll --hub URL --code CODE` (the hub operator gives out codes).")
        }
        guard tokenText.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw SyncClientError(.notConfigured, "The credential holds spaces or control characters; enroll the device again.")
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

    /// The credential file's content: the credential, and the hub it was enrolled with.
    struct SavedFile: Codable, Hashable {
        var hub: String?
        var credential: String
    }

    /// The credential file of the replica at `replicaPath`: JSON (`{"hub":…,"credential":…}`), or
    /// the one line an older version wrote.
    static func savedFile(forReplicaAt replicaPath: String) -> SavedFile? {
        guard let data = FileManager.default.contents(atPath: credentialPath(forReplicaAt: replicaPath)) else { return nil }
        if let file = try? JSONDecoder().decode(SavedFile.self, from: data), !file.credential.isEmpty { return file }
        return nonEmpty(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
            .map { SavedFile(hub: nil, credential: $0) }
    }

    /// The credential saved for the replica at `replicaPath`, if any.
    public static func savedToken(forReplicaAt replicaPath: String) -> String? {
        savedFile(forReplicaAt: replicaPath)?.credential
    }

    /// Saves the credential and the hub's URL next to the replica (mode 0600, replaced
    /// atomically) unless they are already there: `fieldcli enroll` calls it, and so does a
    /// successful exchange with a credential given by flag or environment.
    public func saveToken(forReplicaAt replicaPath: String) throws {
        let path = Self.credentialPath(forReplicaAt: replicaPath)
        let file = SavedFile(hub: peerName, credential: token)
        guard Self.savedFile(forReplicaAt: replicaPath) != file else { return }
        let temporary = path + ".tmp-\(getpid())"
        let fileManager = FileManager.default
        try? fileManager.removeItem(atPath: temporary)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let contents = try? encoder.encode(file),
            fileManager.createFile(atPath: temporary, contents: contents + Data("\n".utf8), attributes: [.posixPermissions: 0o600])
        else {
            throw StoreError(.readOnly, "Cannot write the credential file \(path); check that its folder is writable.")
        }
        guard rename(temporary, path) == 0 else {
            try? fileManager.removeItem(atPath: temporary)
            throw StoreError(.readOnly, "Cannot write the credential file \(path); check that its folder is writable.")
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
