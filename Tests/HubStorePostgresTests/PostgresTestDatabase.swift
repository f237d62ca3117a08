import Foundation
@testable import HubStorePostgres
import Logging
import PostgresNIO
import SyncEngine
import Testing

/// The PostgreSQL server the tests use: `VIGIL_TEST_POSTGRES` (a URL such as
/// `postgres://vigil:secret@127.0.0.1:55432/vigil`). Unset, the suites are disabled, unless
/// `VIGIL_REQUIRE_POSTGRES=1` (CI), which makes them run and fail. Each test works in a schema of
/// its own, created and dropped, so runs never collide.
enum PostgresTestDatabase {
    static let address = ProcessInfo.processInfo.environment["VIGIL_TEST_POSTGRES"].flatMap { $0.isEmpty ? nil : $0 }
    static let isRequired = ProcessInfo.processInfo.environment["VIGIL_REQUIRE_POSTGRES"] == "1"
    /// Whether the suites run: a server is named, or one is required (and its absence fails them).
    static let isEnabled = address != nil || isRequired
    static let disabledReason: Comment =
        "VIGIL_TEST_POSTGRES is unset: start a PostgreSQL server (Docs/Testing.md) and set it to run the PostgreSQL suites"

    static let quiet = Logger(label: "vigil.test.postgres", factory: { _ in SwiftLogNoOpLogHandler() })

    struct Unavailable: Error, CustomStringConvertible {
        let description: String
    }

    static func configuration() throws -> PostgresClient.Configuration {
        guard let address else {
            throw Unavailable(
                description:
                    "VIGIL_REQUIRE_POSTGRES=1 but VIGIL_TEST_POSTGRES is unset: CI must start a server and name it.")
        }
        var configuration = try PostgresClient.Configuration(address: address)
        configuration.options.maximumConnections = 4
        return configuration
    }

    /// Runs `body` with `count` clients of their own (separate connection pools, as separate hub
    /// processes have, their connections searching the schema alone) and a fresh schema's name,
    /// migrated; drops the schema (and removes its hub
    /// key file, ``hubKeyFile(for:)``) afterwards.
    static func withClients<Result>(
        _ count: Int, _ body: (_ clients: [PostgresClient], _ schema: String) async throws -> Result
    ) async throws -> Result {
        let schema = "vigil_test_" + String(UInt64.random(in: .min ... .max), radix: 16)
        // Its connections search the schema alone, as a hub's do: the stores prepare the
        // exchange's statements (PostgresStatementMode).
        var configuration = try configuration()
        try configuration.searchPath(schema)
        let clients = (0..<max(1, count)).map { _ in
            PostgresClient(configuration: configuration, backgroundLogger: quiet)
        }
        return try await withThrowingTaskGroup(of: Void.self) { group in
            for client in clients {
                group.addTask { await client.run() }
            }
            do {
                try await reachable(clients[0])
            } catch {
                group.cancelAll()
                throw error
            }
            do {
                try await PostgresMigrations.migrate(clients[0], schema: schema, logger: quiet)
                let result = try await body(clients, schema)
                try await drop(schema, clients[0])
                removeHubKeyFile(for: schema)
                group.cancelAll()
                return result
            } catch {
                try? await drop(schema, clients[0])
                removeHubKeyFile(for: schema)
                group.cancelAll()
                // PSQLError's description hides the server's message; the test's report needs it.
                if error is PSQLError { throw Unavailable(description: String(reflecting: error)) }
                throw error
            }
        }
    }

    /// The path of `schema`'s hub key file, which a hub opened on a new schema needs
    /// (`PostgresHub.open(keyFile:)`, `PostgresHubImport.copy(keyFile:)`; the first writes it): in a
    /// folder of the owner's alone (mode 0700), the schema's own, removed with the schema.
    static func hubKeyFile(for schema: String) throws -> String {
        let folder = hubKeyFolder(for: schema)
        try FileManager.default.createDirectory(
            atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        return folder + "/hub.key"
    }

    private static func hubKeyFolder(for schema: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("vigil-hub-key-\(schema)").path
    }

    private static func removeHubKeyFile(for schema: String) {
        try? FileManager.default.removeItem(atPath: hubKeyFolder(for: schema))
    }

    private static func drop(_ schema: String, _ client: PostgresClient) async throws {
        try await client.query(PostgresQuery(unsafeSQL: "DROP SCHEMA IF EXISTS \(schema) CASCADE"), logger: quiet)
    }

    /// Fails within 30 seconds when the server does not answer (a pool retries connecting forever).
    static func reachable(_ client: PostgresClient) async throws {
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                let rows = try await client.query("SELECT 1", logger: quiet)
                for try await _ in rows {}
                return true
            }
            group.addTask {
                try await Task.sleep(for: .seconds(30))
                return false
            }
            let answered = try await group.next() ?? false
            group.cancelAll()
            guard answered else {
                throw Unavailable(
                    description: "The PostgreSQL server at VIGIL_TEST_POSTGRES did not answer within 30 seconds.")
            }
        }
    }
}

/// Versions for the feed's tests: signed with random bytes (the feed stores, it does not verify).
enum FeedFixtures {
    struct BadName: Error {}

    static func version(
        _ origin: ReplicaID, _ counter: UInt64, collection: String = "observations", partition: String = "SD-DN",
        signature: Data? = nil
    ) throws -> Version {
        guard let collectionName = CollectionName(collection), let partitionName = Partition(partition),
            let id = DocumentID("doc-\(origin.short)-\(counter)")
        else { throw BadName() }
        return Version(
            dot: Dot(replica: origin, counter: counter), collection: collectionName, documentID: id,
            partition: partitionName,
            context: VersionVector(), body: Data(#"{"n":\#(counter)}"#.utf8),
            timestamp: HybridTimestamp(wallMilliseconds: 1_700_000_000_000 + counter),
            signature: signature ?? Data((0..<64).map { _ in UInt8.random(in: .min ... .max) }))
    }
}
