import Foundation
import Logging
import ReplicaStore
@testable import SyncClient
import Testing
import TestSupport

/// The composition root of `syncd run`: the daemon's object graph built from its configuration,
/// checked without starting it.
@Suite("Field daemon composition")
struct FieldDaemonTests {
    static let logger = Logger(label: "vigil.test.daemon") { _ in SwiftLogNoOpLogHandler() }

    @Test("the flags' hub and credential, interval, budget and retries reach the daemon")
    func fromFlags() async throws {
        try await TemporaryReplica.withFolder { folder in
            _ = try folder.create("field")
            let configuration = FieldDaemonConfiguration(
                replicaPath: folder.path("field"), storeOptions: folder.options, hub: "http://127.0.0.1:9/", token: "t0ken",
                timeoutSeconds: 7, interval: .seconds(90), bytesPerDay: 5_000_000, environment: [:])
            let built = try buildFieldDaemon(configuration: configuration, logger: Self.logger)
            #expect(built.store.path == folder.path("field"))
            #expect(built.credentials.token == "t0ken")
            #expect(built.synchronizer.peer == "http://127.0.0.1:9")
            #expect(built.synchronizer.configuration.retry == FieldDaemonConfiguration.daemonRetry)
            #expect(built.daemon.synchronizer.peer == built.synchronizer.peer)
            #expect(built.daemon.configuration.schedule.interval == .seconds(90))
            #expect(built.daemon.configuration.bytesPerDay == 5_000_000)
            #expect(built.daemon.configuration.tallyPath == folder.path("field") + ".budget")
            let transport = try #require(built.synchronizer.transport as? HTTPSyncTransport)
            #expect(transport.configuration.timeoutSeconds == 7)
            #expect(transport.configuration.token == "t0ken")
        }
    }

    /// Replays a review's finding: `syncd run` syncs with hub A (credential from its flags) while
    /// the observer enrolls the replica with hub B (`fieldcli enroll`, which writes the
    /// credential file). After its next sync the daemon wrote A's credential back: B's, issued
    /// for a code now used up, was lost. The daemon saves its credential only while the file is
    /// as it found it.
    @Test("the daemon never writes its credential over one saved after it started")
    func aNewEnrollmentIsNotOverwritten() async throws {
        try await TemporaryReplica.withFolder { folder in
            let store = try folder.create("field")
            let configuration = FieldDaemonConfiguration(
                replicaPath: folder.path("field"), storeOptions: folder.options, hub: "http://127.0.0.1:9/", token: "t0ken",
                environment: [:])
            let built = try buildFieldDaemon(configuration: configuration, logger: Self.logger)
            built.daemon.onSuccess(SyncSummary())
            #expect(HubCredentials.savedToken(forReplicaAt: store.path) == "t0ken", "its own credential, saved after its first success")
            let enrolled = try HubCredentials.resolve(
                hub: "http://127.0.0.1:11", token: "enrolled", trust: HubTrust(), store: store, environment: [:])
            try enrolled.saveToken(for: store)
            built.daemon.onSuccess(SyncSummary())
            #expect(HubCredentials.savedToken(forReplicaAt: store.path) == "enrolled")
        }
    }

    /// Replays a review's finding: `syncd run --hub http://192.0.2.10` (plain HTTP to another
    /// machine) started, and logged a failed sync every minute for as long as it ran; `fieldcli
    /// sync` refuses the same flags at once. The daemon is refused before it starts too.
    @Test("a hub address or trust that the transport would refuse is refused before the daemon starts")
    func insecureHubIsRefusedAtStart() async throws {
        try await TemporaryReplica.withFolder { folder in
            _ = try folder.create("field")
            // A name under .localhost too: glibc may ask DNS for it (review); only `localhost`,
            // 127.0.0.0/8 and ::1 are this machine.
            let refused = [
                ("http://192.0.2.10", HubTrust()), ("https://192.0.2.10", HubTrust(pins: ["not-a-digest"])),
                ("http://hub.localhost", HubTrust()),
            ]
            for (hub, trust) in refused {
                let configuration = FieldDaemonConfiguration(
                    replicaPath: folder.path("field"), storeOptions: folder.options, hub: hub, token: "t0ken", trust: trust,
                    environment: [:])
                let error = #expect(throws: SyncClientError.self, "\(hub)") {
                    try buildFieldDaemon(configuration: configuration, logger: Self.logger)
                }
                #expect(error?.code == .insecureHubAddress || error?.code == .notConfigured)
            }
        }
    }

    @Test("without flags the environment names the hub and credential")
    func fromEnvironment() async throws {
        try await TemporaryReplica.withFolder { folder in
            _ = try folder.create("field")
            let configuration = FieldDaemonConfiguration(
                replicaPath: folder.path("field"), storeOptions: folder.options,
                environment: [HubCredentials.hubEnvironmentKey: "http://127.0.0.1:10", HubCredentials.tokenEnvironmentKey: "env"])
            let built = try buildFieldDaemon(configuration: configuration, logger: Self.logger)
            #expect(built.synchronizer.peer == "http://127.0.0.1:10")
            #expect(built.credentials.token == "env")
            #expect(built.daemon.configuration.bytesPerDay == nil)
            #expect(built.daemon.configuration.schedule.interval == .seconds(60))
        }
    }

    @Test("a replica with no hub configured is refused before anything runs")
    func notConfigured() async throws {
        try await TemporaryReplica.withFolder { folder in
            _ = try folder.create("field")
            let configuration = FieldDaemonConfiguration(
                replicaPath: folder.path("field"), storeOptions: folder.options, environment: [:])
            let error = #expect(throws: SyncClientError.self) {
                try buildFieldDaemon(configuration: configuration, logger: Self.logger)
            }
            #expect(error?.code == .notEnrolled)
        }
    }

    @Test("a missing replica file is a store error")
    func missingReplica() async throws {
        try await TemporaryReplica.withFolder { folder in
            let configuration = FieldDaemonConfiguration(
                replicaPath: folder.path("absent"), hub: "http://127.0.0.1:9", token: "t", environment: [:])
            #expect(throws: StoreError.self) {
                try buildFieldDaemon(configuration: configuration, logger: Self.logger)
            }
        }
    }
}
