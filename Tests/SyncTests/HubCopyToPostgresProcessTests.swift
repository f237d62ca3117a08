import Foundation
import SyncEngine
import Testing
import TestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// `syncd copy-to-postgres` as real processes: a network that started on the SQLite hub moves to
/// PostgreSQL, and its devices go on syncing without enrolling or pulling again. Needs a server:
/// `VIGIL_TEST_POSTGRES` names it (CI sets `VIGIL_REQUIRE_POSTGRES=1`, which makes a missing
/// server a failure).
@Suite(
    "syncd copy-to-postgres: an SQLite hub moves to PostgreSQL", .serialized, .timeLimit(.minutes(6)),
    .enabled(if: PostgresServer.isEnabled, PostgresServer.disabledReason))
struct HubCopyToPostgresProcessTests {
    /// Schedule (issue 12, "Two backends"): devices enrolled with `syncd serve --db`, one with a
    /// read scope, one revoked, an attachment and an audit log; the hub stops, is copied, and
    /// `syncd serve --postgres` starts on its port. Before the command existed the move meant a new
    /// hub identity: every device enrolled again and pulled the whole feed again.
    @Test("the devices of a copied hub sync with it on PostgreSQL without enrolling or pulling again")
    func devicesKeepSyncing() async throws {
        try await PostgresServer.withSchema { backend in
            try await withProcessFixture { fixture in
                let hubPath = fixture.path("hub.sqlite")
                let sqliteHub = try await fixture.startHub(database: hubPath)
                let (a, b, scoped, seized) = (
                    fixture.path("a.sqlite"), fixture.path("b.sqlite"), fixture.path("scoped.sqlite"),
                    fixture.path("seized.sqlite")
                )
                for replica in [a, b, scoped, seized] { try await fixture.initReplica(replica) }
                try await fixture.enroll(a, at: sqliteHub)
                try await Self.enroll(b, as: "b", flags: ["--all", "--media", "all"], hub: sqliteHub, fixture: fixture)
                try await Self.enroll(
                    scoped, as: "scoped", flags: ["--read", "reports", "--write", "reports"], hub: sqliteHub,
                    fixture: fixture)
                try await Self.enroll(seized, as: "seized", flags: ["--all"], hub: sqliteHub, fixture: fixture)

                let report = try await fixture.put(a, "reports", body: #"{"title":"Bridge out"}"#)
                _ = try await fixture.put(a, "reports", body: #"{"title":"Road closed"}"#)
                _ = try await fixture.put(b, "notes", body: #"{"text":"not for the scoped device"}"#)
                let photo = Data((0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
                let photoPath = fixture.path("photo.jpg")
                try photo.write(to: URL(fileURLWithPath: photoPath))
                let attached = try await fixture.fieldcli(a, ["attach", "reports", report, photoPath])
                #expect(attached.exitStatus == 0, "\(attached)")
                _ = try await fixture.put(seized, "reports", body: #"{"title":"before the seizure"}"#)
                for replica in [a, b, seized, a, b, scoped] {
                    _ = try await fixture.syncSucceeding(replica, hub: sqliteHub.url)
                }
                let revoked = try await fixture.run("syncd", ["devices", "revoke", "seized", "--db", hubPath])
                #expect(revoked.exitStatus == 0, "\(revoked)")
                let keptHead = try await fixture.run("syncd", ["audit", "head", "--db", hubPath])
                let head = try #require(keptHead.stdout.split(separator: " ").last.map { String($0.dropLast()) })
                #expect(try await fixture.stop(sqliteHub) == .exited(0))
                let bytes = try Data(contentsOf: URL(fileURLWithPath: hubPath))

                let copied = try await fixture.run("syncd", ["copy-to-postgres", "--db", hubPath] + backend)
                #expect(copied.exitStatus == 0, "\(copied)")
                #expect(copied.stdout.contains("Copied hub"), "\(copied)")
                #expect(try Data(contentsOf: URL(fileURLWithPath: hubPath)) == bytes, "the SQLite file changed")

                // The hub on PostgreSQL at the same address: same identity, same positions.
                let hub = try await fixture.startHub(backend: backend, port: sqliteHub.port)
                for replica in [a, b, scoped] {
                    let summary = try await fixture.syncSucceeding(replica, hub: hub.url)
                    #expect(summary.versionsPulled == 0, "\(replica) pulled again: \(summary)")
                    #expect(summary.versionsPushed == 0, "\(replica) pushed again: \(summary)")
                }
                let refused = try await fixture.run("fieldcli", fixture.syncArguments(seized, hub: hub.url))
                #expect(refused.exitStatus == 77, "\(refused)")

                // New writes reach the others, within their scopes.
                _ = try await fixture.put(a, "reports", body: #"{"title":"Water rising"}"#)
                _ = try await fixture.put(b, "notes", body: #"{"text":"still not for the scoped device"}"#)
                #expect(try await fixture.syncSucceeding(a, hub: hub.url).versionsPushed == 1)
                let atB = try await fixture.syncSucceeding(b, hub: hub.url)
                #expect(atB.versionsPushed == 1 && atB.versionsPulled == 1, "\(atB)")
                #expect(try await fixture.syncSucceeding(a, hub: hub.url).versionsPulled == 1)
                #expect(try await fixture.syncSucceeding(scoped, hub: hub.url).versionsPulled == 1)

                // A device enrolled on PostgreSQL gets the attachment the SQLite hub took.
                let late = fixture.path("late.sqlite")
                try await fixture.initReplica(late)
                try await Self.enroll(late, as: "late", flags: ["--all", "--media", "all"], hub: hub, fixture: fixture)
                _ = try await fixture.syncSucceeding(late, hub: hub.url)
                let hash = AttachmentDigest.hex(of: photo)
                let out = fixture.path("out.jpg")
                let got = try await fixture.fieldcli(
                    late, ["attachments", "get", "reports", report, hash], ["--out", out])
                #expect(got.exitStatus == 0, "\(got)")
                #expect((try? Data(contentsOf: URL(fileURLWithPath: out))) == photo)

                // The audit log as it was: it verifies, the head kept from SQLite is in it.
                let verified = try await fixture.run("syncd", ["audit", "verify", "--head", head] + backend)
                #expect(verified.exitStatus == 0, "\(verified)")
                #expect(verified.stdout.contains("Every entry is signed by this hub's key."), "\(verified)")

                // A second copy into the same schema is refused and changes nothing.
                let before = try await fixture.run("syncd", ["audit", "head"] + backend)
                let again = try await fixture.run("syncd", ["copy-to-postgres", "--db", hubPath] + backend)
                #expect(again.exitStatus == 79, "\(again)")
                #expect(again.stderr.contains("holds a hub's data already"), "\(again)")
                #expect(try await fixture.run("syncd", ["audit", "head"] + backend).stdout == before.stdout)
                #expect(try await fixture.syncSucceeding(b, hub: hub.url).versionsPulled == 0)
                #expect(try Data(contentsOf: URL(fileURLWithPath: hubPath)) == bytes, "the SQLite file changed")
            }
        }
    }

    /// Schedule: a hub with a console operator is copied. PostgreSQL keeps no operators yet: the
    /// copy names what it would leave and stops (exit 80) with nothing written, unless
    /// `--leave-behind` accepts it.
    @Test("what PostgreSQL does not keep is named, and copied past only with --leave-behind")
    func leftBehindNeedsTheFlag() async throws {
        try await PostgresServer.withSchema { backend in
            try await withProcessFixture { fixture in
                let hubPath = fixture.path("hub.sqlite")
                let hub = try await fixture.startHub(database: hubPath)
                let device = fixture.path("device.sqlite")
                try await fixture.initReplica(device)
                try await fixture.enroll(device, at: hub)
                let added = try await fixture.run(
                    "syncd", ["operators", "add", "amina", "--role", "admin", "--db", hubPath])
                #expect(added.exitStatus == 0, "\(added)")
                #expect(try await fixture.stop(hub) == .exited(0))

                let refused = try await fixture.run("syncd", ["copy-to-postgres", "--db", hubPath] + backend)
                #expect(refused.exitStatus == 80, "\(refused)")
                #expect(refused.stderr.contains("1 console operator account"), "\(refused)")
                #expect(refused.stderr.contains("--leave-behind"), "\(refused)")

                // Nothing was written: the copy with the flag finds the schema empty.
                let copied = try await fixture.run(
                    "syncd", ["copy-to-postgres", "--db", hubPath, "--leave-behind"] + backend)
                #expect(copied.exitStatus == 0, "\(copied)")
                #expect(copied.stderr.contains("1 console operator account"), "\(copied)")
                let listed = try await fixture.run("syncd", ["devices", "list", "--json"] + backend)
                #expect((try listed.json()["devices"] as? [[String: Any]])?.count == 1, "\(listed)")
            }
        }
    }

    @Test("a device's replica, a missing file, no address and an unreachable server are refused, the replica unchanged")
    func refusals() async throws {
        try await PostgresServer.withSchema { backend in
            try await withProcessFixture { fixture in
                let device = fixture.path("device.sqlite")
                try await fixture.initReplica(device)
                let bytes = try Data(contentsOf: URL(fileURLWithPath: device))
                let notHub = try await fixture.run("syncd", ["copy-to-postgres", "--db", device] + backend)
                #expect(notHub.exitStatus == 65, "\(notHub)")
                #expect(try Data(contentsOf: URL(fileURLWithPath: device)) == bytes)
                let missing = try await fixture.run(
                    "syncd", ["copy-to-postgres", "--db", fixture.path("none.sqlite")] + backend)
                #expect(missing.exitStatus == 66, "\(missing)")
                #expect(!FileManager.default.fileExists(atPath: fixture.path("none.sqlite")))
                let usage = try await fixture.run(
                    "syncd", ["copy-to-postgres", "--db", device], environment: ["VIGIL_HUB_POSTGRES": ""])
                #expect(usage.exitStatus == 64, "\(usage)")

                // A hub's file (made by `syncd devices add`) and a server that refuses every connection.
                let hubPath = fixture.path("hub.sqlite")
                #expect(
                    try await fixture.run("syncd", ["devices", "add", "x", "--all", "--db", hubPath]).exitStatus == 0)
                let unreachable = try await fixture.run(
                    "syncd",
                    ["copy-to-postgres", "--db", hubPath, "--postgres", "postgres://vigil:secret@127.0.0.1:1/vigil"])
                #expect(unreachable.exitStatus == 69, "\(unreachable)")
                #expect(unreachable.stderr.contains("accepted no connection within"), "\(unreachable)")
            }
        }
    }

    /// Schedule: a feed of 2,500 versions is copied in three batches, with progress on stderr; the
    /// writer pulls nothing again, a device enrolled afterwards pulls all of it, and the positions
    /// PostgreSQL hands out next continue above the copied ones.
    @Test("a feed larger than a batch is copied in batches, positions kept")
    func feedInBatches() async throws {
        try await PostgresServer.withSchema { backend in
            try await withProcessFixture { fixture in
                let hubPath = fixture.path("hub.sqlite")
                let sqliteHub = try await fixture.startHub(database: hubPath)
                let writer = fixture.path("writer.sqlite")
                _ = try seedReplica(at: writer, count: 2_500, collection: try collectionName("reports"))
                try await fixture.enroll(writer, at: sqliteHub)
                #expect(try await fixture.syncSucceeding(writer, hub: sqliteHub.url).versionsPushed == 2_500)
                #expect(try await fixture.stop(sqliteHub) == .exited(0))

                let copied = try await fixture.run("syncd", ["copy-to-postgres", "--db", hubPath] + backend)
                #expect(copied.exitStatus == 0, "\(copied)")
                for line in [
                    "copying versions: 1000 of 2500", "copying versions: 2000 of 2500",
                    "copying versions: 2500 of 2500",
                ] {
                    #expect(copied.stderr.contains(line), "\(copied)")
                }
                #expect(copied.stdout.contains("2500 versions"), "\(copied)")

                let hub = try await fixture.startHub(backend: backend, port: sqliteHub.port)
                #expect(try await fixture.syncSucceeding(writer, hub: hub.url).versionsPulled == 0)
                let reader = fixture.path("reader.sqlite")
                try await fixture.initReplica(reader)
                try await fixture.enroll(reader, at: hub)
                #expect(try await fixture.syncSucceeding(reader, hub: hub.url).versionsPulled == 2_500)
                _ = try await fixture.put(reader, "reports", body: #"{"title":"after the move"}"#)
                #expect(try await fixture.syncSucceeding(reader, hub: hub.url).versionsPushed == 1)
                #expect(try await fixture.syncSucceeding(writer, hub: hub.url).versionsPulled == 1)
            }
        }
    }

    /// Schedule: a hub file whose `knowledge` table holds a counter that is no number (damaged or
    /// edited). The devices table is copied before it: the copy fails with one sentence naming the
    /// table, and rolls back (a second attempt finds the schema empty, so it fails the same way).
    @Test("a malformed row is one sentence naming its table, and the copy leaves the schema empty")
    func malformedRow() async throws {
        try #require(SQLiteShell.isInstalled, "sqlite3 is needed to damage the file")
        try await PostgresServer.withSchema { backend in
            try await withProcessFixture { fixture in
                let hubPath = fixture.path("hub.sqlite")
                let hub = try await fixture.startHub(database: hubPath)
                let device = fixture.path("device.sqlite")
                try await fixture.initReplica(device)
                try await fixture.enroll(device, at: hub)
                _ = try await fixture.put(device, "reports", body: #"{"title":"Bridge out"}"#)
                _ = try await fixture.syncSucceeding(device, hub: hub.url)
                #expect(try await fixture.stop(hub) == .exited(0))
                #expect(try SQLiteShell.run(hubPath, "UPDATE knowledge SET counter = 'many'").status == 0)

                for _ in 0..<2 {
                    let copied = try await fixture.run("syncd", ["copy-to-postgres", "--db", hubPath] + backend)
                    #expect(copied.exitStatus == 65, "\(copied)")
                    // Progress lines, then the one sentence.
                    let last = copied.stderr.split(separator: "\n").last ?? ""
                    #expect(last.hasPrefix("syncd: A row of the hub file's knowledge"), "\(copied)")
                    #expect(
                        copied.stderr.split(separator: "\n").dropLast().allSatisfy { $0.hasPrefix("syncd: copying ") },
                        "\(copied)")
                }
            }
        }
    }

    private static func enroll(
        _ replica: String, as name: String, flags: [String], hub: RunningHub, fixture: ProcessFixture
    ) async throws {
        let added = try await fixture.run("syncd", ["devices", "add", name, "--json"] + flags + hub.backend)
        struct Added: Decodable { var code: String }
        let code = try JSONDecoder().decode(Added.self, from: Data(added.output.utf8)).code
        let enrolled = try await fixture.fieldcli(replica, ["enroll"], ["--hub", hub.url, "--code", code])
        #expect(enrolled.exitStatus == 0, "\(enrolled)")
    }
}
