import Foundation
import ReplicaStore
import SyncClient
import SyncEngine
import Synchronization
import Testing
import TestSupport

/// A hub in a test that answers as revision 2 does: one page of versions, no certificates, and
/// the certificates asked for apart, signed with its key (`forged` ids: with another key).
final class CertificateScriptedHub: SyncTransport {
    let hubID = ReplicaID.random()
    let hubKey = DeviceKey()
    let page: [Version]
    private let certificates: [ReplicaID: DeviceCertificate]
    /// How many ids each certificate request named, in order.
    let asked = Mutex<[Int]>([])
    /// The verification failures the requests reported.
    let reported = Mutex<[VerificationReport]>([])
    /// How many certificate requests are answered 404 before the others are served.
    let missingEndpoint: Mutex<Int>

    init(authors: [(id: ReplicaID, key: DeviceKey)], forged: Set<ReplicaID> = [], missingEndpoint: Int = 0) throws {
        self.missingEndpoint = Mutex(missingEndpoint)
        let collection = try #require(CollectionName("notes"))
        page = try authors.enumerated().map { index, author in
            try author.key.sign(Version(
                dot: Dot(replica: author.id, counter: 1), collection: collection,
                documentID: try #require(DocumentID("n-\(index)")), partition: .default, context: VersionVector(),
                body: Data(#"{"n":\#(index)}"#.utf8), timestamp: HybridTimestamp(wallMilliseconds: 1_700_000_000_000)))
        }
        let otherKey = DeviceKey()
        var certificates: [ReplicaID: DeviceCertificate] = [:]
        for author in authors {
            certificates[author.id] = try DeviceCertificate(
                hub: hubID, replica: author.id, publicKey: author.key.publicKey, name: "author", issuedAt: 1,
                signedWith: forged.contains(author.id) ? otherKey : hubKey)
        }
        self.certificates = certificates
    }

    func exchange(_ request: SyncRequest) async throws -> TransportReply {
        reported.withLock { $0 += request.unverified ?? [] }
        let response = SyncResponse(
            protocolVersion: 2, hub: hubID, knowledge: VersionVector(), accepted: 0, rejected: [],
            versions: request.checkpoint == nil ? page : [],
            checkpoint: "page-1", more: false)
        return TransportReply(response: response, bytesSent: 100, bytesReceived: 1_000)
    }

    func certificates(of replicas: [ReplicaID]) async throws -> CertificateReply {
        asked.withLock { $0.append(replicas.count) }
        let missing = missingEndpoint.withLock { left in
            defer { left = max(0, left - 1) }
            return left > 0
        }
        if missing { throw SyncClientError(.requestRefused, "no such route", httpStatus: 404) }
        // As the HTTP transport and the hub: at most 1,000 ids a request.
        return CertificateReply(
            certificates: replicas.prefix(CertificateRequest.maxReplicas).compactMap { certificates[$0] }, bytesSent: 10,
            bytesReceived: 20)
    }
}

/// Revision 2 of the answer leaves certificates out; the client asks for the authors' keys it
/// lacks before it verifies a page, and only what the pinned hub key signed establishes a key.
@Suite("Certificates on request")
struct CertificateRequestTests {
    static func sync(_ store: ReplicaStore, _ hub: CertificateScriptedHub) async throws -> SyncSummary {
        try await Synchronizer(
            store: store, transport: hub, peer: "scripted-hub", configuration: .init(retry: .never), logger: silentLogger
        ).run()
    }

    /// Replays a first page of a network of more authors than one certificate request names
    /// (1,000): asked in one request, the authors past the first 1,000 stayed without a key and
    /// their versions were kept apart for good.
    @Test("a page of 1,001 new authors: their certificates asked for in requests of at most 1,000, every version applied")
    func manyAuthors() async throws {
        let authors = (0...CertificateRequest.maxReplicas).map { _ in (id: ReplicaID.random(), key: DeviceKey()) }
        let hub = try CertificateScriptedHub(authors: authors)
        try await TemporaryReplica.withReplica { store in
            try store.pinHub(hub.hubID, key: hub.hubKey.publicKey)
            let summary = try await Self.sync(store, hub)
            #expect(hub.asked.withLock { $0 } == [1_000, 1])
            #expect(try store.status().versions == authors.count)
            #expect(summary.bytesSent >= 2 * 10 && summary.bytesReceived >= 2 * 20, "the certificate requests are counted")
            #expect(try store.unreportedVerificationFailures(limit: 10).isEmpty)

            // The keys are held now: the next page of these authors asks for nothing.
            _ = try await Self.sync(store, hub)
            #expect(hub.asked.withLock { $0 } == [1_000, 1])
        }
    }

    /// Replays a review's finding: the hub answers as revision 2 (no certificates), and its
    /// certificate route answers 404 (a proxy forwarding only `/v1/sync`). Before, the page was
    /// applied with the new author's version kept apart for want of a key, and the checkpoint
    /// passed it: nothing ever looked at it again, and the report never showed. Now the round
    /// fails with nothing applied, and the next sync, served, applies the page.
    @Test("a 404 for certificates fails the round with nothing applied; the next sync applies the page")
    func missingCertificateRouteAppliesNothing() async throws {
        let authors = (0..<2).map { _ in (id: ReplicaID.random(), key: DeviceKey()) }
        let hub = try CertificateScriptedHub(authors: authors, missingEndpoint: 1)
        try await TemporaryReplica.withReplica { store in
            try store.pinHub(hub.hubID, key: hub.hubKey.publicKey)
            let error = await #expect(throws: SyncClientError.self) { try await Self.sync(store, hub) }
            #expect(error?.code == .badAnswer)
            #expect(try store.status().versions == 0)
            #expect(try store.peerState("scripted-hub").checkpoint == nil)
            _ = try await Self.sync(store, hub)
            #expect(try store.status().versions == authors.count)
            #expect(try store.unreportedVerificationFailures(limit: 10).isEmpty)
        }
    }

    @Test("a certificate asked for that the pinned key did not sign establishes nothing: its author's version is kept apart")
    func forgedCertificate() async throws {
        let authors = (0..<3).map { _ in (id: ReplicaID.random(), key: DeviceKey()) }
        let hub = try CertificateScriptedHub(authors: authors, forged: [authors[1].id])
        try await TemporaryReplica.withReplica { store in
            try store.pinHub(hub.hubID, key: hub.hubKey.publicKey)
            _ = try await Self.sync(store, hub)
            #expect(hub.asked.withLock { $0 } == [3])
            #expect(try store.status().versions == 2)
            let failures = hub.reported.withLock { $0 }
            #expect(failures.map(\.dot) == [Dot(replica: authors[1].id, counter: 1)], "kept apart and reported to the hub")
            #expect(failures.first?.reason == .unknownKey)
        }
    }
}
