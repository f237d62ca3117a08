import Foundation
import HubStore
import HummingbirdTesting
import SyncEngine
import SyncHub
import Testing
import TestSupport

/// `POST /v1/certificates` names only authors a device may read: the hub, the device itself, and
/// those who wrote a version in good standing within its read scope.
@Suite("Certificates within the read scope")
struct CertificateScopeTests {
    static let notes = CollectionName("notes")!

    /// A device with `grants`, enrolled by id and key, and its credential.
    struct Author {
        let id = ReplicaID.random()
        let key = DeviceKey()
        let token: String

        /// Enrolled as `name`, reading `read` and writing `write` (scopes as `syncd devices add` takes them).
        init(_ hub: HubFixture, _ name: String, read: String, write: String) async throws {
            let grants = AccessGrants(read: try #require(Scope(text: read)), write: try #require(Scope(text: write)))
            token = try await hub.enroll(id, key: key, name: name, grants: grants)
        }

        /// Pushes one note in `partition` as this author.
        func push(_ hub: HubFixture, _ client: TestClient, partition: String) async throws {
            let version = try key.sign(Version(
                dot: Dot(replica: id, counter: 1), collection: CertificateScopeTests.notes,
                documentID: try #require(DocumentID("note-\(id.short)")), partition: try #require(Partition(partition)),
                context: VersionVector(), body: Data(#"{"title":"from \#(partition)"}"#.utf8),
                timestamp: HybridTimestamp(wallMilliseconds: 1_700_000_000_000)))
            let request = SyncRequest(replica: id, counter: 1, checkpoint: nil, push: [version])
            let response = try await HubHTTPTests.post(client, hub, body: try HubHTTPTests.encode(request), token: token)
            #expect(response.status == .ok)
        }
    }

    static func certified(_ client: TestClient, _ hub: HubFixture, _ ids: [ReplicaID], token: String) async throws -> Set<ReplicaID> {
        let body = try JSONEncoder().encode(CertificateRequest(replicas: ids))
        let response = try await Protocol2Tests.askCertificates(client, hub, body, token: token)
        #expect(response.status == .ok)
        let answer = try JSONDecoder().decode(CertificateResponse.self, from: try Protocol2Tests.bytes(response))
        return Set(answer.certificates.map(\.replica))
    }

    /// Replays a seized device of one region asking for the certificates of ids gathered outside
    /// its scope (the hub's and nginx's logs name replica ids, as do other regions' bundles):
    /// before, the hub gave the name and key of every enrolled author it was asked for, so a log
    /// and one seized credential made a roster of the network's observers; now it gives only those
    /// whose reports the device may read.
    @Test("a device of one region gets the certificates of its region's authors, its own and the hub's, never another region's")
    func onlyReadableAuthors() async throws {
        try await HubHTTPTests.withHub { hub, client in
            let north = try await Author(hub, "north-observer", read: "notes/north", write: "notes/north")
            let south = try await Author(hub, "south-observer", read: "notes/south", write: "notes/south")
            let reader = try await Author(hub, "north-reader", read: "notes/north", write: "notes/north")
            try await north.push(hub, client, partition: "north")
            try await south.push(hub, client, partition: "south")
            let hubID = hub.exchange.hubID
            let silent = ReplicaID.random()
            _ = try await hub.enroll(silent, key: DeviceKey(), name: "silent-observer")

            let asked = [north.id, south.id, silent, hubID, reader.id, ReplicaID.random()]
            #expect(try await Self.certified(client, hub, asked, token: reader.token) == [north.id, hubID, reader.id])
            #expect(try await Self.certified(client, hub, asked, token: south.token) == [south.id, hubID])
            // A device reading everything gets every author's, still not an enrolled device's
            // that wrote nothing it could read.
            #expect(try await Self.certified(client, hub, asked, token: hub.token) == [north.id, south.id, hubID])
        }
    }

    @Test("a prefix scope reaches the authors of every partition it covers")
    func prefixScope() async throws {
        try await HubHTTPTests.withHub { hub, client in
            let east = try await Author(hub, "east", read: "notes/east-1", write: "notes/east-1")
            let west = try await Author(hub, "west", read: "notes/west", write: "notes/west")
            let regional = try await Author(hub, "regional", read: "notes/east-*", write: "notes/east-2")
            try await east.push(hub, client, partition: "east-1")
            try await west.push(hub, client, partition: "west")
            #expect(try await Self.certified(client, hub, [east.id, west.id], token: regional.token) == [east.id])
        }
    }
}
