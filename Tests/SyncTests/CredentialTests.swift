import Foundation
import ReplicaStore
import SyncClient
import SyncEngine
import SyncHub
import Testing
import TestSupport

/// The saved credential and what goes with it (issue 10 §4): it is sent only to the hub it was
/// issued by, the CA file or pin given at enrollment applies to every later sync, and the file is
/// private.
@Suite("Saved credential")
struct CredentialTests {
    static func mode(_ path: String) -> Int? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Int(info.st_mode & 0o7777)
    }

    /// Attack: someone who can set `--hub` or `VIGIL_HUB` for a device (a shared script, a
    /// tampered service file, a typo) points it at a host they hold; the device used to send its
    /// saved credential there.
    @Test func savedCredentialGoesOnlyToItsHub() async throws {
        try await HubFixture.withHub { hub in
            try await TemporaryReplica.withReplica { store in
                let code = try await hub.enrollmentCode(name: "field-laptop")
                let answer = try await DeviceEnrollment.enroll(store, hub: hub.url, code: code)
                let elsewhere = "http://127.0.0.1:9"

                let byFlag = #expect(throws: SyncClientError.self) {
                    try HubCredentials.resolve(hub: elsewhere, token: nil, store: store, environment: [:])
                }
                #expect(byFlag?.code == .credentialHubMismatch)
                #expect(byFlag?.message.contains(answer.credential) == false)
                let byEnvironment = #expect(throws: SyncClientError.self) {
                    try HubCredentials.resolve(
                        hub: nil, token: nil, store: store, environment: [HubCredentials.hubEnvironmentKey: elsewhere])
                }
                #expect(byEnvironment?.code == .credentialHubMismatch)
                // Another spelling of the same hub, or a credential given for the other hub, is fine.
                let same = try HubCredentials.resolve(
                    hub: hub.url.absoluteString.uppercased().replacingOccurrences(of: "HTTP://", with: "http://") + "/",
                    token: nil, store: store, environment: [:])
                #expect(same.token == answer.credential)
                let explicit = try HubCredentials.resolve(hub: elsewhere, token: "another-credential", store: store, environment: [:])
                #expect(explicit.token == "another-credential")
                let saved = try HubCredentials.resolve(hub: nil, token: nil, store: store, environment: [:])
                #expect(HubCredentials.isSameHub(saved.url, hub.url))
                #expect(saved.token == answer.credential)
            }
        }
    }

    /// Attack: a credential file left readable by other users (copied with `cp`, restored from a
    /// backup) is refused rather than used.
    @Test func exposedCredentialFileIsRefused() async throws {
        try await HubFixture.withHub { hub in
            try await TemporaryReplica.withReplica { store in
                let code = try await hub.enrollmentCode(name: "field-laptop")
                _ = try await DeviceEnrollment.enroll(store, hub: hub.url, code: code)
                let path = HubCredentials.credentialPath(forReplicaAt: store.path)
                #expect(Self.mode(path) == 0o600)
                #expect(chmod(path, 0o644) == 0)
                let error = #expect(throws: SyncClientError.self) {
                    try HubCredentials.resolve(hub: nil, token: nil, store: store, environment: [:])
                }
                #expect(error?.code == .credentialFileExposed)
                #expect(HubCredentials.savedToken(for: store) == nil)
            }
        }
    }

    /// The pin (or CA file) given at enrollment is saved with the credential and applied to every
    /// later sync; flags override it; it never applies to another hub.
    @Test func trustGivenAtEnrollmentIsSavedAndApplied() async throws {
        try await TLSTests.withTLSHub { hub, url, certificate in
            try await TemporaryReplica.withReplica { store in
                let pin = try certificate.derPin()
                let code = try await hub.enrollmentCode(name: "pinned-laptop")
                _ = try await DeviceEnrollment.enroll(store, hub: url, code: code, trust: HubTrust(pins: [pin]))
                let path = HubCredentials.credentialPath(forReplicaAt: store.path)
                #expect(Self.mode(path) == 0o600)
                let stored = try #require(FileManager.default.contents(atPath: path))
                let content = store.isEncrypted ? try store.openFile(stored, purpose: "credential") : stored
                let file = try JSONSerialization.jsonObject(with: content) as? [String: Any]
                #expect(file?["pins"] as? [String] == [pin])

                let saved = try HubCredentials.resolve(hub: nil, token: nil, store: store, environment: [:])
                #expect(saved.trust.pins == [pin])
                var configuration = HTTPSyncTransport.Configuration(hub: saved.url, token: saved.token, timeoutSeconds: 10)
                configuration.trust = saved.trust
                let summary = try await Synchronizer(
                    store: store, transport: HTTPSyncTransport(configuration: configuration), peer: saved.peerName,
                    configuration: .init(retry: .never), logger: silentLogger
                ).run()
                #expect(summary.roundTrips >= 1)

                let overridden = try HubCredentials.resolve(
                    hub: nil, token: nil, trust: HubTrust(caFile: certificate.certificate), store: store, environment: [:])
                #expect(overridden.trust.pins.isEmpty)
                #expect(overridden.trust.caFile == certificate.certificate)
                let other = try HubCredentials.resolve(
                    hub: "https://127.0.0.1:9", token: "another-credential", store: store, environment: [:])
                #expect(other.trust.pins.isEmpty, "the saved pin belongs to its hub only")
            }
        }
    }

    /// The hub's database, its key, WAL and SHM, and the enrolled device's credential file are
    /// created 0600.
    @Test func hubDatabaseAndCredentialArePrivate() async throws {
        try await HubFixture.withHub { hub in
            for suffix in ["", ".key", "-wal", "-shm"] {
                let path = hub.configuration.databasePath + suffix
                #expect(Self.mode(path) == 0o600, "\(path): \(Self.mode(path).map { String($0, radix: 8) } ?? "missing")")
            }
            try await TemporaryReplica.withReplica { store in
                let path = HubCredentials.credentialPath(forReplicaAt: store.path)
                // A world-readable file in the way is replaced by a private one.
                #expect(FileManager.default.createFile(atPath: path, contents: Data("{}".utf8), attributes: [.posixPermissions: 0o644]))
                _ = try await DeviceEnrollment.enroll(store, hub: hub.url, code: try await hub.enrollmentCode(name: "laptop"))
                #expect(Self.mode(path) == 0o600)
                for suffix in ["", "-wal", "-shm", ".key"] {
                    #expect(Self.mode(store.path + suffix) == 0o600, "\(store.path + suffix)")
                }
            }
        }
    }
}
