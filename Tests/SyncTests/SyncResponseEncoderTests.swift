import Foundation
@testable import SyncHub
import SyncEngine
import Testing

@Suite("Sync response encoder")
struct SyncResponseEncoderTests {
    static func response(versions: [Version]) -> SyncResponse {
        var response = SyncResponse(
            hub: .random(), knowledge: VersionVector(), accepted: 3,
            rejected: [Rejection(dot: Dot(replica: .random(), counter: 2), reason: .invalidRecord, message: #"say "versions":[]"#, quarantined: true)],
            versions: versions, checkpoint: "7.\(ReplicaID.random().hex):1", more: true)
        response.grants = AccessGrants(read: Scope(text: "notes/SD-*") ?? .nothing, write: .nothing)
        return response
    }

    static func versions(_ count: Int) throws -> [Version] {
        let key = DeviceKey()
        let origin = ReplicaID.random()
        return try (1...count).map { counter in
            let body = counter % 5 == 0 ? nil : Data(#"{"title":"ünïcode \"quoted\" \#(counter)","versions":[]}"#.utf8)
            return try key.sign(Version(
                dot: Dot(replica: origin, counter: UInt64(counter)), collection: CollectionName("notes")!,
                documentID: DocumentID("doc-\(counter)")!, partition: .default, context: VersionVector(), body: body,
                timestamp: HybridTimestamp(wallMilliseconds: 1_700_000_000_000 + UInt64(counter), logical: 0)))
        }
    }

    @Test("the bytes are JSONEncoder's, first encoded, then kept, and after evictions")
    func sameBytesAsJSONEncoder() throws {
        let all = try Self.versions(40)
        for encoder in [SyncResponseEncoder(), SyncResponseEncoder(maxBytes: 2_000)] {
            for page in [Array(all[0..<20]), Array(all[10..<40]), Array(all[0..<20]), []] {
                let response = Self.response(versions: page)
                let encoded = try encoder.encode(response)
                #expect(encoded == (try JSONEncoder().encode(response)))
                #expect(try JSONDecoder().decode(SyncResponse.self, from: encoded) == response)
            }
        }
    }

    /// Schedule: a version is served without a receipt, then its writer's write scope changes and
    /// the hub serves it with one. Before the fix the kept JSON (keyed by dot and signature) went
    /// out again without the receipt, and a restored hub would quarantine the version.
    @Test("a version kept without its receipt goes out with it once it carries one")
    func receiptIsPartOfTheKeptJSON() throws {
        let encoder = SyncResponseEncoder()
        let version = try #require(try Self.versions(1).first)
        let receipted = AdmissionReceiptKey(signingKey: Data(repeating: 1, count: 32)).withReceipt(version)
        for page in [[version], [receipted], [version]] {
            let response = Self.response(versions: page)
            let decoded = try JSONDecoder().decode(SyncResponse.self, from: try encoder.encode(response))
            #expect(decoded.versions.map(\.receipt) == page.map(\.receipt))
        }
    }
}
