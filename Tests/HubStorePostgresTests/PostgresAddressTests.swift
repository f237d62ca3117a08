import Foundation
@testable import HubStorePostgres
import PostgresNIO
import SyncEngine
import Testing

/// What needs no server: reading a PostgreSQL address, checking schema names, the scope's SQL.
struct PostgresAddressTests {
    @Test func anAddressGivesItsParts() throws {
        let configuration = try PostgresClient.Configuration(address: "postgres://vigil:s%40cr%2Ft@127.0.0.1:55432/hub")
        #expect(configuration.host == "127.0.0.1")
        #expect(configuration.port == 55432)
        #expect(configuration.username == "vigil")
        #expect(configuration.password == "s@cr/t")  // percent-decoded once
        #expect(configuration.database == "hub")
        let bare = try PostgresClient.Configuration(address: "postgresql://hub@db.internal/vigil")
        #expect(bare.port == 5432)
        #expect(bare.password == nil)
    }

    @Test(arguments: [
        "", "http://vigil@127.0.0.1/vigil", "postgres://127.0.0.1/vigil", "postgres://vigil@127.0.0.1",
        "postgres://vigil@127.0.0.1/", "postgres://vigil@127.0.0.1/a/b", "postgres://vigil@/vigil",
    ])
    func aMalformedAddressIsRefused(_ address: String) {
        #expect(throws: PostgresStoreError.self) { try PostgresClient.Configuration(address: address) }
    }

    @Test func tlsIsOffOnLoopbackAndVerifiedElsewhereByDefault() throws {
        for host in ["127.0.0.1", "127.8.9.10", "localhost", "[::1]"] {
            let security = try PostgresTransportSecurity(host: host, parameters: [])
            #expect(security.mode == .disable, "\(host)")
        }
        for host in ["db.internal", "10.0.0.5", "127.0.0.1.example.org", "128.0.0.1"] {
            let security = try PostgresTransportSecurity(host: host, parameters: [])
            #expect(security.mode == .verifyFull, "\(host)")
        }
        let chosen = try PostgresClient.Configuration(address: "postgres://vigil@db.internal/hub?sslmode=require")
        #expect(chosen.host == "db.internal")
        let security = try PostgresTransportSecurity(
            host: "db.internal",
            parameters: [.init(name: "sslmode", value: "verify-ca"), .init(name: "sslrootcert", value: "/r.pem")])
        #expect(security == PostgresTransportSecurity(mode: .verifyCA, rootCertificates: "/r.pem"))
    }

    @Test(arguments: [
        "sslmode=prefer", "sslmode=allow", "sslmode=", "sslmode=verify_full", "sslmod=require",
        "sslmode=require&sslmode=disable", "sslmode=require&sslrootcert=/r.pem", "sslrootcert=/r.pem&sslmode=disable",
        "application_name=x",
    ])
    func aDowngradableMisspeltOrUnknownParameterIsRefused(_ query: String) {
        let error = #expect(throws: PostgresStoreError.self) {
            try PostgresClient.Configuration(address: "postgres://vigil@db.internal/hub?\(query)")
        }
        #expect(error?.code == .invalidAddress)
    }

    @Test func anUnreadableRootsFileIsRefused() throws {
        let missing = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-no-such-root-\(UInt64.random(in: 0 ... .max)).pem")
        let error = #expect(throws: PostgresStoreError.self) {
            try PostgresClient.Configuration(
                address: "postgres://vigil@db.internal/hub?sslmode=verify-full&sslrootcert=\(missing.path)")
        }
        #expect(error?.code == .invalidAddress)
    }

    @Test func aFailedAttemptIsSummedUpForPeople() {
        // PostgresNIO's descriptions of a refused login, a missing database and a closed port.
        let login = """
            PSQLError(code: server, serverInfo: [sqlState: 28P01, file: auth.c, line: 334, message: password \
            authentication failed for user "vigil", routine: auth_failed, localizedSeverity: FATAL, severity: FATAL])
            """
        #expect(
            PostgresConnectionFailures.summary(of: login)
                == #"the server refused it: password authentication failed for user "vigil" (SQLSTATE 28P01)"#)
        let database = """
            PSQLError(code: server, serverInfo: [sqlState: 3D000, file: postinit.c, line: 948, message: database \
            "nodb" does not exist, routine: InitPostgres, localizedSeverity: FATAL, severity: FATAL])
            """
        #expect(PostgresConnectionFailures.summary(of: database).hasSuffix(#"database "nodb" does not exist (SQLSTATE 3D000)"#))
        let closed = """
            PSQLError(code: connectionError, underlying: Connection errors: SingleConnectionFailure(target: \
            [IPv4]127.0.0.1/127.0.0.1:1, error: connection reset (error set): Connection refused) (errno: 111)))
            """
        #expect(PostgresConnectionFailures.summary(of: closed).contains("nothing listens"))
        #expect(PostgresConnectionFailures.summary(of: "PSQLError(code: somethingNew)") == "the connection failed")
    }

    @Test func schemaNamesArePlainIdentifiers() throws {
        for name in ["public", "vigil", "hub_2", "_x"] {
            #expect(try PostgresSchemaName(name).name == name)
        }
        for name in ["", "Public", "2hub", "hub-2", "hub; DROP TABLE x", "a.b", String(repeating: "a", count: 64)] {
            let error = #expect(throws: PostgresStoreError.self) { try PostgresSchemaName(name) }
            #expect(error?.code == .invalidSchemaName)
        }
    }

    @Test func aPrefixIsTheRangeOfNamesStartingWithIt() throws {
        #expect(PostgresFeedSelection.upperBound(ofPrefix: "SD-") == "SD.")
        #expect(PostgresFeedSelection.upperBound(ofPrefix: "obs") == "obt")
        let scope = try #require(Scope(text: "observations/SD-*"))
        let query = try #require(
            PostgresFeedSelection(schema: PostgresSchemaName("hub"), scope: scope, after: 0, limit: 8).query)
        #expect(
            query.sql.contains(
                "collection = $3 COLLATE \"C\" AND partition >= $4 COLLATE \"C\" AND partition < $5 COLLATE \"C\""),
            "\(query.sql)")
        #expect(!query.sql.contains("UNION"))
        let two = try #require(Scope(text: "observations/SD-DN,situations"))
        let union = try #require(
            PostgresFeedSelection(schema: PostgresSchemaName("hub"), scope: two, after: 0, limit: 8).query)
        #expect(union.sql.components(separatedBy: " UNION ").count == 2)
        #expect(union.sql.hasSuffix("ORDER BY seq LIMIT $2"))
    }
}
