public import Foundation
public import ReplicaStore

/// Which hub a replica syncs with, the device credential it presents, and how it trusts the hub:
/// from flags, then the environment (`VIGIL_HUB`, `VIGIL_TOKEN`, `VIGIL_CA_FILE`, `VIGIL_PIN`),
/// then what was saved (the credential file `<replica>.credential`, mode 0600, written by
/// `fieldcli enroll`: the credential, the hub it was issued by, and the CA file or pins given then;
/// else the URL of the last successful exchange kept in the replica).
///
/// A saved credential is only ever sent to the hub it was issued by: naming another hub without
/// giving a credential is refused (`credentialHubMismatch`), so a mistyped or hostile `--hub` or
/// `VIGIL_HUB` cannot collect it.
public struct HubCredentials: Sendable, Hashable {
    /// The environment variable naming the hub's URL.
    public static let hubEnvironmentKey = "VIGIL_HUB"
    /// The environment variable holding the device credential.
    public static let tokenEnvironmentKey = "VIGIL_TOKEN"

    /// The hub's base URL.
    public var url: URL
    /// The device's bearer credential; never logged or printed.
    public var token: String
    /// How the hub's certificate is trusted: what the flags or environment said, else what was
    /// saved with the credential for this hub.
    public var trust: HubTrust

    public init(url: URL, token: String, trust: HubTrust = HubTrust()) {
        self.url = url
        self.token = token
        self.trust = trust
    }

    /// The name the hub is kept under in the replica: its URL without a trailing slash.
    public var peerName: String { Self.peerName(for: url) }

    /// Where the token of the replica at `replicaPath` is saved.
    public static func credentialPath(forReplicaAt replicaPath: String) -> String { replicaPath + ".credential" }

    /// Resolves the hub, token and trust for `store`. `trust` is what the flags and environment
    /// said (``HubTrust/resolve(caFile:pins:allowInsecureHTTP:environment:)``); with neither a CA
    /// file nor a pin in it, the ones saved with the credential apply to the hub it was issued by.
    /// Throws ``SyncClientError``: `notEnrolled` when no hub is configured or no credential is held
    /// for it, `invalidHubAddress` or `insecureHubAddress` for an address it will not use,
    /// `notConfigured` when the token or the trust settings are malformed,
    /// `credentialHubMismatch` when the saved credential would go to another hub than its own,
    /// `credentialFileExposed` when the credential file can be read by other users.
    public static func resolve(
        hub: String?, token: String?, trust: HubTrust = HubTrust(), store: ReplicaStore,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> HubCredentials {
        let file = try savedFile(forReplicaAt: store.path, store: store)
        let lastHub = try savedHub(in: store)
        guard let hubText = nonEmpty(hub) ?? nonEmpty(environment[hubEnvironmentKey]) ?? file?.hub ?? lastHub else {
            throw SyncClientError(.notEnrolled, "No hub is configured for this replica.")
        }
        guard let url = parseURL(hubText) else {
            throw SyncClientError(
                .invalidHubAddress, "The hub address '\(hubText.prefix(100))' is not an http:// or https:// URL.")
        }
        let given = nonEmpty(token) ?? nonEmpty(environment[tokenEnvironmentKey])
        // The hub the saved credential was issued by (an older file did not say: then the hub of
        // the last successful exchange).
        let owner = (file?.hub ?? lastHub).flatMap(parseURL)
        if given == nil, file != nil, let owner, !isSameHub(owner, url) {
            throw SyncClientError(
                .credentialHubMismatch,
                "The credential saved for this replica was issued by the hub at \(peerName(for: owner)), not by the hub at \(peerName(for: url)); it is not sent to another hub.")
        }
        guard let tokenText = given ?? file?.credential else {
            throw SyncClientError(.notEnrolled, "This replica holds no credential for the hub at \(peerName(for: url)).")
        }
        guard tokenText.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw SyncClientError(.notConfigured, "The credential holds spaces or control characters; enroll the device again.")
        }
        var resolvedTrust = trust
        if !trust.namesCertificates, let file, let fileHub = file.hub.flatMap(parseURL), isSameHub(fileHub, url) {
            resolvedTrust.caFile = file.caFile
            resolvedTrust.pins = file.pins ?? []
        }
        return HubCredentials(url: url, token: tokenText, trust: resolvedTrust)
    }

    /// Whether `a` and `b` name the same hub: scheme, host and port (default ports filled in)
    /// and path, ignoring case in the scheme and host and trailing slashes in the path.
    public static func isSameHub(_ a: URL, _ b: URL) -> Bool {
        func identity(_ url: URL) -> String {
            let scheme = url.scheme?.lowercased() ?? ""
            let port = url.port ?? (scheme == "https" ? 443 : 80)
            var path = url.path
            while path.hasSuffix("/") { path.removeLast() }
            return "\(scheme)://\((url.host ?? "").lowercased()):\(port)\(path)"
        }
        return identity(a) == identity(b)
    }

    /// The hub of the most recent successful exchange kept in `store` (or, unless
    /// `successfulOnly`, of the most recent attempt), if any.
    public static func savedHub(in store: ReplicaStore, successfulOnly: Bool = true) throws -> String? {
        try store.peerStates()
            .filter { parseURL($0.peer) != nil && (!successfulOnly || $0.lastSyncAt != nil) }
            .max { ($0.lastSyncAt ?? 0, $0.peer) < ($1.lastSyncAt ?? 0, $1.peer) }?
            .peer
    }

    /// The credential file's content: the credential, the hub it was issued by, and how that hub
    /// was trusted at enrollment (a CA file's absolute path, or pins).
    struct SavedFile: Codable, Hashable {
        var hub: String?
        var credential: String
        var caFile: String?
        var pins: [String]?
    }

    /// The largest credential file read.
    static let maximumFileSize = 64 << 10

    /// The credential file of the replica at `replicaPath`: JSON (`{"hub":…,"credential":…}`), or
    /// the one line an older version wrote; nil when there is none. Refuses a file that other
    /// users can read or write (`credentialFileExposed`). A file sealed under an encrypted
    /// replica's data key is read only through `store` (without it, it counts as absent).
    static func savedFile(forReplicaAt replicaPath: String, store: ReplicaStore? = nil) throws -> SavedFile? {
        let path = credentialPath(forReplicaAt: replicaPath)
        guard let exposed = PrivateFile.isExposed(path) else { return nil }
        guard !exposed else {
            throw SyncClientError(
                .credentialFileExposed, "The credential file \(path) can be read or written by other users; it is not used.")
        }
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        guard var data = try? handle.read(upToCount: maximumFileSize), !data.isEmpty else { return nil }
        if let store, store.isEncrypted {
            data = try store.openFile(data, purpose: credentialPurpose)
        } else if ReplicaStore.isSealedFile(data) {
            return nil
        }
        if let file = try? JSONDecoder().decode(SavedFile.self, from: data), !file.credential.isEmpty { return file }
        return nonEmpty(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
            .map { SavedFile(hub: nil, credential: $0) }
    }

    /// The credential saved for the replica at `replicaPath`, if any (nil too when the file can be
    /// read by other users, or is sealed: see ``savedToken(for:)``).
    public static func savedToken(forReplicaAt replicaPath: String) -> String? {
        (try? savedFile(forReplicaAt: replicaPath))?.credential
    }

    /// The credential saved for the opened replica `store`, if any (opened with its data key when
    /// it is encrypted; nil too when the file can be read by other users or does not open).
    public static func savedToken(for store: ReplicaStore) -> String? {
        (try? savedFile(forReplicaAt: store.path, store: store))?.credential
    }

    /// Saves the credential, the hub's URL and how it was trusted (a CA file's absolute path, or
    /// pins) next to the replica (mode 0600 from the first byte, replaced atomically) unless they
    /// are already there: `fieldcli enroll` calls it, and so does a successful exchange.
    /// An encrypted replica's credential is saved only through ``saveToken(for:)``.
    public func saveToken(forReplicaAt replicaPath: String) throws {
        guard !ReplicaStore.isEncrypted(at: replicaPath) else {
            throw StoreError(.locked, "The replica \(replicaPath) is encrypted; its credential is saved only once it is unlocked.")
        }
        try saveToken(forReplicaAt: replicaPath, store: nil)
    }

    /// ``saveToken(forReplicaAt:)`` for an opened replica: sealed under its data key when it is encrypted.
    public func saveToken(for store: ReplicaStore) throws {
        try saveToken(forReplicaAt: store.path, store: store)
    }

    /// What the credential is sealed for in an encrypted replica's credential file.
    static let credentialPurpose = "credential"

    private func saveToken(forReplicaAt replicaPath: String, store: ReplicaStore?) throws {
        let path = Self.credentialPath(forReplicaAt: replicaPath)
        let caFile = trust.caFile.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        let file = SavedFile(hub: peerName, credential: token, caFile: caFile, pins: trust.pins.isEmpty ? nil : trust.pins)
        guard (try? Self.savedFile(forReplicaAt: replicaPath, store: store)) != file else { return }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let content = try encoder.encode(file) + Data("\n".utf8)
        let stored = try store?.sealFile(content, purpose: Self.credentialPurpose) ?? content
        do {
            try PrivateFile.write(stored, to: path)
        } catch let error as StoreError {
            // With the system's reason and its code: a full disk is not a permission problem.
            throw error
        } catch {
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
