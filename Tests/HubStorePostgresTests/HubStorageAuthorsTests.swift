import Foundation
import HubStore
import SyncEngine
import Testing

/// ``HubStorage/authors(among:within:)``: the authors whose certificates a device reading a scope
/// may be given (`POST /v1/certificates`), on every backend.
@Suite(.serialized)
struct HubStorageAuthorsTests {
    static func scope(_ text: String) throws -> Scope { try #require(Scope(text: text)) }

    @Test(arguments: StorageBackend.enabled)
    func authorsAreThoseWithAVersionInGoodStandingWithinTheScope(_ backend: StorageBackend) async throws {
        try await StorageUnderTest.with(backend) { hub in
            let (dn, kh, aside, silent) = (ReplicaID.random(), ReplicaID.random(), ReplicaID.random(), ReplicaID.random())
            _ = try await hub.push([try PushFixtures.version(dn, 1)])
            _ = try await hub.push([try PushFixtures.version(kh, 1, partition: "SD-KH")])
            // Its only version is set aside (outside its write scope): it counts as no author.
            let policy = AdmissionPolicy(writeScopes: [aside: try Self.scope("observations/SD-KH")])
            let outside = try PushFixtures.version(aside, 1)
            #expect(try await hub.push([outside], policy: policy).applied.setAside.keys.sorted() == [outside.dot])

            let asked: Set = [dn, kh, aside, silent]
            #expect(try await hub.storage.authors(among: asked, within: try Self.scope("observations/SD-DN")) == [dn])
            #expect(try await hub.storage.authors(among: asked, within: try Self.scope("observations/SD-*")) == [dn, kh])
            #expect(try await hub.storage.authors(among: asked, within: try Self.scope("observations/SD-KH,warnings/*")) == [kh])
            #expect(try await hub.storage.authors(among: asked, within: try Self.scope("*/SD-KH")) == [kh])
            #expect(try await hub.storage.authors(among: asked, within: .everything) == [dn, kh])
            #expect(try await hub.storage.authors(among: asked, within: try Self.scope("warnings/*")).isEmpty)
            #expect(try await hub.storage.authors(among: asked, within: .nothing).isEmpty)
            #expect(try await hub.storage.authors(among: [], within: .everything).isEmpty)
        }
    }
}
