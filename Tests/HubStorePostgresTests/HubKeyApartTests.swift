import Foundation
import HubStore
import HubStoreSQLite
@testable import HubStorePostgres
import PostgresNIO
import ReplicaStore
import SyncEngine
import Testing

/// The hub's signing key kept apart from PostgreSQL (`syncd serve --hub-key`): the database holds
/// only its public half, so a `pg_dump`, a backup or a read-only database login gives no one the
/// key that signs device certificates and revocation notices.
///
/// Schedule replayed (found in this session's review): a backup of the hub's database leaves the
/// network's hands (pg_dump, as Docs/OperatorsGuide.md advises for backups); before this change it
/// held `hub_identity.signing_key`, with which the holder certifies a key of their own as a device
/// of the network, and every replica then admits the reports signed with it (by bundle or through
/// a hub). `theDatabaseHoldsNoPrivateKey` fails on the code before: the row kept the key.
///
/// Schedule replayed by `aNewSchemaWithoutAKeyFileIsRefusedAndLeftWithoutAnIdentity` (found in
/// review of ec6fcbb): an operator sets up a new database and starts `syncd serve --postgres`
/// without `--hub-key` (the flag was optional); before, the first process wrote a new private key
/// into `hub_identity` and every dump from then on held it.
@Suite(.serialized, .enabled(if: PostgresTestDatabase.isEnabled, PostgresTestDatabase.disabledReason))
struct HubKeyApartTests {
    /// A new folder of the owner's alone (the SQLite hub of the copy).
    static func folder() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-hub-key-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        return path
    }

    static func open(_ client: PostgresClient, _ schema: String, keyFile: String?) async throws -> PostgresHub {
        try await PostgresHub.open(client: client, schema: schema, keyFile: keyFile, logger: PostgresTestDatabase.quiet)
    }

    /// The code of the failure to open the hub with `keyFile`; nil when it opens.
    static func refusal(opening client: PostgresClient, _ schema: String, keyFile: String?) async -> PostgresStoreError.Code? {
        do {
            _ = try await open(client, schema, keyFile: keyFile)
            return nil
        } catch {
            return (error as? PostgresStoreError)?.code
        }
    }

    /// The row of `hub_identity`: its private key when it holds one, and its public half.
    static func identityRow(_ client: PostgresClient, _ schema: String) async throws -> (signingKey: Data?, publicKey: Data?) {
        let rows = try await client.query(
            PostgresQuery(unsafeSQL: "SELECT signing_key, public_key FROM \(schema).hub_identity"), logger: PostgresTestDatabase.quiet)
        for try await row in rows.decode((Data?, Data?).self) { return row }
        throw PostgresTestDatabase.Unavailable(description: "hub_identity is empty")
    }

    static func hex(_ data: Data) -> String { data.map { String(format: "%02x", $0) }.joined() }

    /// Whether `schema` exists on the server.
    static func schemaExists(_ client: PostgresClient, _ schema: String) async throws -> Bool {
        let rows = try await client.query("SELECT to_regnamespace(\(schema)) IS NOT NULL", logger: PostgresTestDatabase.quiet)
        for try await exists in rows.decode(Bool.self) { return exists }
        return false
    }

    static func fileKey(_ path: String) throws -> Data {
        let text = try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        return try #require(Data(base64Encoded: text))
    }

    @Test func theDatabaseHoldsNoPrivateKey() async throws {
        try await PostgresTestDatabase.withClients(1) { clients, schema in
            let keyFile = try PostgresTestDatabase.hubKeyFile(for: schema)
            let hub = try await Self.open(clients[0], schema, keyFile: keyFile)
            let row = try await Self.identityRow(clients[0], schema)
            #expect(row.signingKey == nil)
            #expect(row.publicKey == hub.tables.hubKey.publicKey.rawRepresentation)
            // The file holds the key the hub signs with, private to its owner.
            #expect(try Self.fileKey(keyFile) == hub.tables.hubKey.rawRepresentation)
            let mode = try #require(FileManager.default.attributesOfItem(atPath: keyFile)[.posixPermissions] as? Int)
            #expect(mode & 0o077 == 0)
        }
    }

    @Test func everyProcessWithTheFileIsTheSameHubAndNoneWithoutIt() async throws {
        try await PostgresTestDatabase.withClients(2) { clients, schema in
            let keyFile = try PostgresTestDatabase.hubKeyFile(for: schema)
            let folder = (keyFile as NSString).deletingLastPathComponent
            let first = try await Self.open(clients[0], schema, keyFile: keyFile)
            let second = try await Self.open(clients[1], schema, keyFile: keyFile)
            #expect(second.tables.hubID == first.tables.hubID)
            #expect(second.tables.hubKey.rawRepresentation == first.tables.hubKey.rawRepresentation)

            #expect(await Self.refusal(opening: clients[1], schema, keyFile: nil) == .hubKeyApart)
            // A machine the file was not copied to: refused, and no key file of its own is left there.
            let missing = folder + "/elsewhere.key"
            #expect(await Self.refusal(opening: clients[1], schema, keyFile: missing) == .hubKeyMismatch)
            #expect(!FileManager.default.fileExists(atPath: missing))
            // Another key: refused.
            let other = folder + "/other.key"
            #expect(
                FileManager.default.createFile(
                    atPath: other, contents: Data((DeviceKey().rawRepresentation.base64EncodedString() + "\n").utf8),
                    attributes: [.posixPermissions: 0o600]))
            #expect(await Self.refusal(opening: clients[1], schema, keyFile: other) == .hubKeyMismatch)
            // A file others can read: refused before anything is read from it.
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: keyFile)
            #expect(await Self.refusal(opening: clients[1], schema, keyFile: keyFile) == .hubKeyFile)
        }
    }

    /// Schedule (CI at a88be1c, `scripts/cluster check`): three hub processes start at once on a new
    /// schema with one key file. One looked for the file before another had written it, then found
    /// the identity that other had just created (it writes the file first, then the row), and
    /// stopped: "the hub key file is missing". Replayed here in that order: the first process
    /// creates the hub, the second goes on from a look that found no file. It failed so before.
    @Test func aProcessThatLookedBeforeTheFileWasWrittenFindsItAfterTheRow() async throws {
        try await PostgresTestDatabase.withClients(2) { clients, schema in
            let keyFile = try PostgresTestDatabase.hubKeyFile(for: schema)
            let first = try await Self.open(clients[0], schema, keyFile: keyFile)
            let table = "\(schema).hub_identity"
            let second = try await PostgresHub.Identity.keptApart(
                in: table, file: PostgresHubKeyFile(path: keyFile), firstLook: nil, client: clients[1],
                logger: PostgresTestDatabase.quiet)
            #expect(second.replica == first.tables.hubID)
            #expect(second.key.rawRepresentation == first.tables.hubKey.rawRepresentation)
        }
    }

    /// A hub opened without a key file on a schema that holds no hub yet is refused, and nothing
    /// is written: no identity (so no private key) in a migrated schema, and no schema at all
    /// where there was none. On the code before, both opened and wrote a private key.
    @Test func aNewSchemaWithoutAKeyFileIsRefusedAndLeftWithoutAnIdentity() async throws {
        try await PostgresTestDatabase.withClients(1) { clients, schema in
            #expect(await Self.refusal(opening: clients[0], schema, keyFile: nil) == .hubKeyApart)
            let rows = try await clients[0].query(
                PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(schema).hub_identity"), logger: PostgresTestDatabase.quiet)
            for try await count in rows.decode(Int64.self) { #expect(count == 0, "an identity was written") }

            let absent = schema + "_absent"
            #expect(await Self.refusal(opening: clients[0], absent, keyFile: nil) == .hubKeyApart)
            #expect(try await !Self.schemaExists(clients[0], absent), "the schema was created")
            try await clients[0].query(
                PostgresQuery(unsafeSQL: "DROP SCHEMA IF EXISTS \(absent) CASCADE"), logger: PostgresTestDatabase.quiet)

            // With the key file the same schema becomes a hub, its key in the file only.
            let keyFile = try PostgresTestDatabase.hubKeyFile(for: schema)
            let hub = try await Self.open(clients[0], schema, keyFile: keyFile)
            #expect(try Self.fileKey(keyFile) == hub.tables.hubKey.rawRepresentation)
            #expect(try await Self.identityRow(clients[0], schema).signingKey == nil)
        }
    }

    @Test func aKeyInTheDatabaseIsMovedToTheFileOnTheFirstStartWithOne() async throws {
        try await PostgresTestDatabase.withClients(1) { clients, schema in
            let keyFile = try PostgresTestDatabase.hubKeyFile(for: schema)
            // A database of a hub started before --hub-key: the row as such a hub wrote it, the
            // private key in it (and no public half: v14 added that column).
            let (replica, key) = (ReplicaID.random(), DeviceKey())
            try await clients[0].query(
                PostgresQuery(
                    unsafeSQL: """
                        INSERT INTO \(schema).hub_identity (replica_id, signing_key, issued_at)
                        VALUES ('\(replica.hex)', decode('\(Self.hex(key.rawRepresentation))', 'hex'), 1700000000000)
                        """), logger: PostgresTestDatabase.quiet)
            // It still opens without a key file, as it did before --hub-key.
            let before = try await Self.open(clients[0], schema, keyFile: nil)
            #expect(before.tables.hubID == replica)
            #expect(before.tables.hubKey.rawRepresentation == key.rawRepresentation)
            #expect(try await Self.identityRow(clients[0], schema).signingKey == key.rawRepresentation)

            let after = try await Self.open(clients[0], schema, keyFile: keyFile)
            #expect(after.tables.hubID == before.tables.hubID)
            #expect(after.tables.hubKey.rawRepresentation == before.tables.hubKey.rawRepresentation)
            #expect(try Self.fileKey(keyFile) == before.tables.hubKey.rawRepresentation)
            let row = try await Self.identityRow(clients[0], schema)
            #expect(row.signingKey == nil)
            #expect(row.publicKey == before.tables.hubKey.publicKey.rawRepresentation)
            // From now on the key file is needed.
            #expect(await Self.refusal(opening: clients[0], schema, keyFile: nil) == .hubKeyApart)
        }
    }

    /// `syncd copy-to-postgres --hub-key`: the copied hub's key goes to the file (the SQLite hub's
    /// `hub.sqlite.key` has its form), never into the schema; the copy takes no other way since
    /// every new hub on PostgreSQL keeps its key in a file.
    @Test func aCopiedHubKeepsItsKeyInTheFileOnly() async throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/hub.sqlite"
        // A hub that gave out one enrollment code (an unused file is not taken for a hub's).
        let sqlite = try ReplicaStore.createHub(at: path)
        #expect(try sqlite.addEnrollmentCode(hash: Data(repeating: 7, count: 32), deviceName: "amina", expiresAt: sqlite.now() + 60_000))
        try await PostgresTestDatabase.withClients(1) { clients, schema in
            let keyFile = try PostgresTestDatabase.hubKeyFile(for: schema)
            _ = try await HubFileExport.reading(path) { export in
                try await PostgresHubImport.copy(
                    export, into: clients[0], schema: schema, keyFile: keyFile, logger: PostgresTestDatabase.quiet)
            }
            let key = try Self.fileKey(path + ".key")
            #expect(try Self.fileKey(keyFile) == key)
            let row = try await Self.identityRow(clients[0], schema)
            #expect(row.signingKey == nil)
            let hub = try await Self.open(clients[0], schema, keyFile: keyFile)
            #expect(hub.tables.hubKey.rawRepresentation == key)
            #expect(row.publicKey == hub.tables.hubKey.publicKey.rawRepresentation)
        }
    }
}
