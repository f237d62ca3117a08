import Foundation
import ReplicaStore
import SyncEngine
import Testing
import TestSupport

/// Protocol 2 between the real executables: `fieldcli sync` against `syncd serve` on 127.0.0.1.
@Suite("Protocol 2 between real processes", .serialized, .timeLimit(.minutes(10)))
struct Protocol2ProcessTests {
    @Test("fieldcli sync and syncd serve negotiate protocol 2, and two replicas converge through it")
    func negotiatesAndConverges() async throws {
        try await withProcessFixture { fixture in
            let hubPath = fixture.path("hub.sqlite")
            let a = fixture.path("a.sqlite")
            let b = fixture.path("b.sqlite")
            let hub = try await fixture.startHub(database: hubPath)
            try await fixture.initReplica(a)
            try await fixture.initReplica(b)
            var ids: [String] = []
            for index in 0..<25 {
                ids.append(try await fixture.put(a, "reports", body: #"{"title":"report \#(index)","note":"ünïcode \"q\""}"#))
            }
            // A pushes (its first request is JSON, the rest of the sync frames), B pulls in frames,
            // edits one report and pushes it back in a frame; A pulls the edit.
            #expect(try await fixture.syncSucceeding(a, hub: hub.url).versionsPushed == 25)
            #expect(try await fixture.syncSucceeding(b, hub: hub.url).versionsPulled == 25)
            _ = try await fixture.put(b, "reports", id: ids[3], body: #"{"title":"report 3","status":"checked"}"#)
            #expect(try await fixture.syncSucceeding(b, hub: hub.url).versionsPushed == 1)
            #expect(try await fixture.syncSucceeding(a, hub: hub.url).versionsPulled == 1)

            // The hub logged every exchange as protocol 2.
            _ = try await hub.process.waitForLine(timeout: .seconds(10)) { $0.contains("sync exchange") && $0.contains("sync.protocol=2") }
            let exchanges = hub.process.standardError.split(separator: "\n").filter { $0.contains("sync exchange") }
            #expect(exchanges.count >= 4)
            #expect(exchanges.allSatisfy { $0.contains("sync.protocol=2") }, "\(exchanges.prefix(3))")

            // The same documents on both replicas and on the hub.
            let collection = try collectionName("reports")
            let replicas = [try TemporaryReplica.open(at: a), try TemporaryReplica.open(at: b), try TemporaryReplica.open(at: hubPath)]
            for id in ids {
                let key = DocumentKey(collection: collection, id: try #require(DocumentID(id)))
                let states = try replicas.map { try $0.document(key)?.state }
                #expect(states[0] != nil && states.allSatisfy { $0 == states[0] }, "\(key)")
            }
            let editedID = try #require(DocumentID(ids[3]))
            let edited = try #require(try replicas[0].document(DocumentKey(collection: collection, id: editedID)))
            #expect(edited.siblings.count == 1)
            #expect(edited.siblings.first?.body.map { String(decoding: $0, as: UTF8.self).contains("checked") } == true)
            #expect(try await fixture.stop(hub) == .exited(0))
        }
    }
}
