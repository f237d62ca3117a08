import Foundation
import ReplicaStore
import SyncEngine
import Testing
import TestSupport

/// Two replicas enrolled with a hub running in this process, synced with `fieldcli sync`.
struct SharedReplicas {
    let sandbox: CLISandbox
    let hub: HubFixture
    /// Replica A (the sandbox's default replica) and replica B.
    let a: String
    let b: String

    /// Runs `body` with two new replicas enrolled with a new hub; stops the hub afterwards.
    static func with(_ body: (SharedReplicas) async throws -> Void) async throws {
        let sandbox = try CLISandbox()
        try await HubFixture.withHub { hub in
            let shared = SharedReplicas(sandbox: sandbox, hub: hub, a: sandbox.replicaPath, b: sandbox.path("b.sqlite"))
            for path in [shared.a, shared.b] {
                try await sandbox.initialize(path)
                try await hub.enroll(try CLISandbox.open(path), save: true)
            }
            try await body(shared)
        }
    }

    /// `fieldcli sync` of the replica at `path`, which must succeed.
    func sync(_ path: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let result = try await sandbox.fieldcli("sync", "--db", path, "--json")
        #expect(result.succeeded, "\(result)", sourceLocation: sourceLocation)
    }

    /// The `context` object `get --json` prints, as the JSON text a user passes to --base.
    func context(_ path: String, _ collection: String, _ id: String) async throws -> String {
        let document = try await sandbox.succeed("get", collection, id, "--db", path, "--json").json()
        let context = try #require(document["context"] as? [String: Any])
        return String(
            decoding: try JSONSerialization.data(withJSONObject: context, options: [.sortedKeys]), as: UTF8.self)
    }

    /// The bodies of the document's siblings on the replica at `path`, and whether it is in conflict.
    func siblings(_ path: String, _ collection: String, _ id: String) async throws -> (
        conflict: Bool, bodies: [[String: Any]]
    ) {
        let document = try await sandbox.succeed("get", collection, id, "--db", path, "--json").json()
        let siblings = try #require(document["siblings"] as? [[String: Any]])
        return (document["conflict"] as? Bool == true, siblings.compactMap { $0["body"] as? [String: Any] })
    }
}

/// `put`, `delete` and `record --id` with `--base`: an edit carries what its writer saw.
@Suite("fieldcli writes with a base")
struct BaseWriteTests {
    /// Issue 11 §1, the schedule: A and B share a report. A's observer reads it (`get --json`,
    /// keeping its context); B edits it and syncs; A syncs (as `syncd run` would, between the read
    /// and the write) and so pulls B's edit; A's observer writes with `put --base` and the context
    /// read. After both sync, both replicas hold a conflict with both edits. Before the fix, `put`
    /// took A's state at write time as the context and B's edit vanished without a conflict.
    @Test("an edit pulled between get and put --base stays beside the new version on both replicas")
    func pulledEditBecomesAConflict() async throws {
        try await SharedReplicas.with { shared in
            let sandbox = shared.sandbox
            let id = try await sandbox.put("reports", #"{"title": "Flood", "status": "open"}"#)
            try await shared.sync(shared.a)
            try await shared.sync(shared.b)
            let base = try await shared.context(shared.a, "reports", id)

            try await sandbox.succeed(
                "put", "reports", id, "--db", shared.b, "--body", #"{"title": "Flood", "status": "closed"}"#)
            try await shared.sync(shared.b)
            try await shared.sync(shared.a)

            let written = try await sandbox.succeed(
                "put", "reports", id, "--body", #"{"title": "Flood", "status": "open", "casualties": 3}"#,
                "--base", base, "--json"
            ).json()
            #expect(written["conflict"] as? Bool == true)
            try await shared.sync(shared.a)
            try await shared.sync(shared.b)
            for path in [shared.a, shared.b] {
                let (conflict, bodies) = try await shared.siblings(path, "reports", id)
                #expect(conflict, "\(path)")
                #expect(Set(bodies.compactMap { $0["status"] as? String }) == ["open", "closed"], "\(path)")
                #expect(bodies.contains { $0["casualties"] as? Int == 3 }, "\(path)")
            }
        }
    }

    /// The same schedule without --base: the documented behaviour of a plain `put`, which writes
    /// over everything the replica holds at the moment of writing; B's edit is superseded.
    @Test("without --base a put supersedes what the replica holds when it writes")
    func withoutBaseTheOldBehaviourStays() async throws {
        try await SharedReplicas.with { shared in
            let sandbox = shared.sandbox
            let id = try await sandbox.put("reports", #"{"title": "Flood", "status": "open"}"#)
            try await shared.sync(shared.a)
            try await shared.sync(shared.b)
            try await sandbox.succeed(
                "put", "reports", id, "--db", shared.b, "--body", #"{"title": "Flood", "status": "closed"}"#)
            try await shared.sync(shared.b)
            try await shared.sync(shared.a)
            _ = try await sandbox.put("reports", #"{"title": "Flood", "status": "reopened"}"#, id: id)
            try await shared.sync(shared.a)
            try await shared.sync(shared.b)
            for path in [shared.a, shared.b] {
                let (conflict, bodies) = try await shared.siblings(path, "reports", id)
                #expect(!conflict)
                #expect(bodies.map { $0["status"] as? String } == ["reopened"])
            }
        }
    }

    /// A delete with the base read before a colleague's edit arrived leaves the edit beside the
    /// tombstone; the text form of the base (`get` prints it last) is accepted too.
    @Test("delete --base keeps an unseen edit, and the base's text form from get works")
    func deleteWithBase() async throws {
        try await SharedReplicas.with { shared in
            let sandbox = shared.sandbox
            let id = try await sandbox.put("reports", #"{"title": "Flood"}"#)
            try await shared.sync(shared.a)
            try await shared.sync(shared.b)
            let text = try await sandbox.succeed("get", "reports", id).stdout
            let line = try #require(text.split(separator: "\n").last { $0.hasPrefix("base  ") })
            let base = String(line.dropFirst("base  ".count))
            try await sandbox.succeed("put", "reports", id, "--db", shared.b, "--body", #"{"title": "Flood, 3 dead"}"#)
            try await shared.sync(shared.b)
            try await shared.sync(shared.a)
            let deleted = try await sandbox.succeed("delete", "reports", id, "--base", base, "--json").json()
            #expect(deleted["conflict"] as? Bool == true)
            let document = try await sandbox.succeed("get", "reports", id, "--json").json()
            let siblings = try #require(document["siblings"] as? [[String: Any]])
            #expect(siblings.count == 2)
            #expect(Set(siblings.compactMap { $0["deleted"] as? Bool }) == [false, true])
        }
    }

    /// `record warning --id ID --base CONTEXT`: a record written with the base read.
    @Test("record --id --base writes beside an unseen version, and --base needs --id")
    func recordWithBase() async throws {
        let sandbox = try CLISandbox()
        try await sandbox.initialize()
        let other = sandbox.path("b.sqlite")
        try await sandbox.initialize(other)
        let first = sandbox.path("warning.json")
        try Data(RecordBodies.warning(acknowledged: false).utf8).write(to: URL(fileURLWithPath: first))
        let acknowledged = sandbox.path("acknowledged.json")
        try Data(RecordBodies.warning(acknowledged: true).utf8).write(to: URL(fileURLWithPath: acknowledged))
        let id = try await sandbox.succeed("record", "warning", "--from", first).output
        try CLISandbox.deliver(from: sandbox.replicaPath, to: other)
        let document = try await sandbox.succeed("get", "warnings", id, "--json").json()
        let context = try #require(document["context"] as? [String: Any])
        let base = String(decoding: try JSONSerialization.data(withJSONObject: context), as: UTF8.self)
        try await sandbox.succeed("record", "warning", "--id", id, "--from", acknowledged, "--db", other)
        try CLISandbox.deliver(from: other, to: sandbox.replicaPath)

        try await sandbox.fail(
            Exit.usage, mentioning: "--id", ["record", "warning", "--from", acknowledged, "--base", base])
        let written = try await sandbox.succeed(
            "record", "warning", "--id", id, "--from", acknowledged, "--base", base, "--json"
        ).json()
        #expect(written["conflict"] as? Bool == true)
    }

    @Test("a base on a missing document, without an id, malformed, or claiming more than the replica holds is refused")
    func badBases() async throws {
        let sandbox = try CLISandbox()
        try await sandbox.initialize()
        let other = sandbox.path("b.sqlite")
        try await sandbox.initialize(other)
        let id = try await sandbox.put("reports", #"{"title": "Flood"}"#)
        let otherID = try CLISandbox.open(other).replicaID.hex
        let mine = try CLISandbox.open(sandbox.replicaPath).replicaID.hex
        let before = try await sandbox.snapshot()

        try await sandbox.fail(
            Exit.notFound, mentioning: "no document", ["put", "reports", "nope", "--body", "{}", "--base", "{}"])
        try await sandbox.fail(Exit.notFound, mentioning: "no document", ["delete", "reports", "nope", "--base", "{}"])
        try await sandbox.fail(
            Exit.usage, mentioning: "give its ID", ["put", "reports", "--body", "{}", "--base", "{}"])
        for malformed in ["{\"x\": 1}", "[1]", "\(mine)=-1", "abc", "", "{\"\(mine)\": 1.5}"] {
            try await sandbox.fail(
                Exit.invalidInput, mentioning: "not a base",
                ["put", "reports", id, "--body", "{}", "--base", malformed])
        }
        for claim in ["{\"\(mine)\": 2}", "{\"\(mine)\": 1, \"\(otherID)\": 1}", "\(otherID)=4"] {
            try await sandbox.fail(
                Exit.invalidInput, mentioning: "fieldcli get reports \(id) --json",
                ["put", "reports", id, "--body", "{}", "--base", claim])
            try await sandbox.fail(Exit.invalidInput, mentioning: "claims", ["delete", "reports", id, "--base", claim])
        }
        #expect(try await sandbox.snapshot() == before)
    }
}
