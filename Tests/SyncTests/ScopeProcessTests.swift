import Foundation
import Testing
import TestSupport

/// Scopes end to end with the real executables: an operator grants with `syncd devices add` and
/// changes with `syncd devices scopes`; `fieldcli sync` and `fieldcli status` show the effect.
@Suite("Scopes with real syncd and fieldcli processes", .serialized, .timeLimit(.minutes(10)))
struct ScopeProcessTests {
    @Test("devices add/scopes/list carry scopes; the device pulls its scope, its out-of-scope write shows in status, narrowing forgets")
    func scopesEndToEnd() async throws {
        try await withProcessFixture { fixture in
            let hubPath = fixture.path("hub.sqlite")
            let writer = fixture.path("writer.sqlite")
            let field = fixture.path("field.sqlite")
            let hub = try await fixture.startHub(database: hubPath)
            try await fixture.initReplica(writer)
            try await fixture.initReplica(field)
            try await fixture.enroll(writer, at: hub)

            let refused = try await fixture.run("syncd", ["devices", "add", "x", "--db", hubPath, "--read", "notes/S*D", "--write", "none"])
            #expect(refused.exitStatus == 64)
            #expect(refused.stderr.contains("--read takes collection/partition patterns"))

            let added = try await fixture.run(
                "syncd", ["devices", "add", "field", "--db", hubPath, "--read", "notes/SD-*", "--write", "notes/SD-DN", "--json"])
            struct Added: Decodable { var code: String; var read: [String]; var write: [String] }
            let code = try JSONDecoder().decode(Added.self, from: Data(added.output.utf8))
            #expect(code.read == ["notes/SD-*"])
            #expect(code.write == ["notes/SD-DN"])
            let enrolled = try await fixture.fieldcli(field, ["enroll"], ["--hub", hub.url, "--code", code.code])
            #expect(enrolled.exitStatus == 0)

            for (id, partition) in [("d1", "SD-DN"), ("d2", "SD-KH"), ("d3", "ML-1")] {
                _ = try await fixture.fieldcli(writer, ["put", "notes", id], ["--body", #"{"n":1}"#, "--partition", partition])
            }
            _ = try await fixture.syncSucceeding(writer, hub: hub.url)
            #expect(try await fixture.syncSucceeding(field, hub: hub.url).versionsPulled == 2)

            _ = try await fixture.fieldcli(field, ["put", "notes", "mine"], ["--body", #"{"n":2}"#, "--partition", "SD-KH"])
            let pushed = try await fixture.sync(field, hub: hub.url)
            #expect(pushed.exitStatus == 0)
            let status = try await fixture.fieldcli(field, ["status"], ["--json"])
            let object = try #require(try JSONSerialization.jsonObject(with: Data(status.output.utf8)) as? [String: Any])
            #expect(object["readScope"] as? [String] == ["notes/SD-*"])
            let rejected = try #require(object["rejected"] as? [[String: Any]])
            #expect(rejected.count == 1)
            #expect((rejected.first?["reason"] as? String)?.contains("out-of-scope") == true)

            let changed = try await fixture.run("syncd", ["devices", "scopes", "field", "--db", hubPath, "--read", "notes/SD-DN"])
            #expect(changed.exitStatus == 0)
            #expect(changed.output.contains("read notes/SD-DN; write notes/SD-DN"))
            let listed = try await fixture.run("syncd", ["devices", "list", "--db", hubPath, "--json"])
            #expect(listed.output.contains(#""read":["notes\/SD-DN"]"#))

            let narrowed = try await fixture.run("fieldcli", fixture.syncArguments(field, hub: hub.url).filter { $0 != "--json" })
            #expect(narrowed.exitStatus == 0)
            #expect(narrowed.output.contains("read scope narrowed"))
            let list = try await fixture.fieldcli(field, ["list", "notes"], ["--json"])
            let documents = try #require(try JSONSerialization.jsonObject(with: Data(list.output.utf8)) as? [String: Any])
            let ids = (documents["documents"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
            #expect(ids == ["d1"])
        }
    }
}
