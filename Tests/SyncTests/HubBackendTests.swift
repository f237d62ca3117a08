import Foundation
import HubStore
import HubStoreSQLite
import SyncEngine
import SyncHub
import Testing
import TestSupport
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// What a hub is given: every part of its persistence as one `HubBackend`, asked no question
/// about its type.
@Suite("The hub's backend")
struct HubBackendTests {
    /// Replays what removing the downcasts found: a hub whose SQLite storage a test wrapped (to
    /// slow it or count its calls) was served without its attachment and informant-key routes and
    /// without refusals in its audit log, since they were mounted only when the storage's dynamic
    /// type was the SQLite one. The wrapped storage now keeps the backend's other parts.
    @Test func aWrappedStorageKeepsTheOtherPartsOfTheSQLiteBackend() async throws {
        let hub = try await HubFixture.start(wrapStorage: { SlowHubStorage($0, delay: .zero) })
        let (body, status) = try await Self.get(hub.url("v1/informant-key"), token: hub.token)
        await hub.stop()
        #expect(hub.exchange.backend.attachments != nil)
        #expect(hub.exchange.backend.replica != nil)
        // The route's own answer (no key made yet), not the hub's "no such route".
        #expect(status == 404)
        #expect(body.contains("informant key"))
    }

    /// A storage of another kind brings no SQLite replica: the parts only it serves are not served,
    /// and no registry is assumed.
    @Test func anotherStorageServesNothingOnlyTheSQLiteBackendKeeps() async throws {
        let folder = try TemporaryReplica()
        defer { withExtendedLifetime(folder) {} }
        let sqlite = try SQLiteHubStorage(store: try folder.create("hub"))
        let other: any HubStorage = SlowHubStorage(sqlite, delay: .zero)
        let exchange = HubExchange(storage: other, configuration: HubConfiguration(), logger: HubFixture.silentLogger)
        #expect(exchange.backend.replica == nil)
        #expect(exchange.backend.attachments == nil)
        #expect(exchange.devices is EmptyDeviceRegistry)
        let full = HubExchange(storage: sqlite, configuration: HubConfiguration(), logger: HubFixture.silentLogger)
        #expect(full.backend.replica?.hubID == sqlite.hubID)
        #expect(full.devices is SQLiteDeviceRegistry)
    }

    static func get(_ url: URL, token: String) async throws -> (body: String, status: Int) {
        var request = URLRequest(url: url)
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        let (data, response) = try await URLSession.shared.data(for: request)
        return (String(decoding: data, as: UTF8.self), (response as? HTTPURLResponse)?.statusCode ?? 0)
    }
}
