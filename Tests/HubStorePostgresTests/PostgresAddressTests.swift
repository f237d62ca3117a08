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
