import Foundation
import HubConsole
import HubStore
import HubStoreSQLite
import ReplicaStore
import SyncClient
import SyncEngine
import Records
import SyncHub
import Testing
import TestSupport

/// The sealed informant reference end to end: the hub's informant key (`syncd informant-key
/// init`), a real `fieldcli` device that refuses to record one before it has the key, then
/// seals it, syncs, and leaves it nowhere in clear; resolvers open it in the console, viewers
/// never; the offline key file opens it; a reference in clear from an old device is admitted.
@Suite("Console informant key", .serialized, .timeLimit(.minutes(10)))
struct ConsoleInformantKeyTests {
    static let reference = "Halima B., shop by the well, 0912 44 81 07"

    static let observationFlags = [
        "--no-prompt", "--report-kind", "incident", "--event-date", "2026-03-01", "--event-type", "Riots",
        "--actor1", "Rioters", "--inter1", "5", "--country", "SD", "--admin1", "SD-DN", "--mode", "direct",
        "--informant-consent",
    ]

    /// Which of `paths` (those that exist) hold `text`'s bytes. Read by a child process (grep):
    /// opening and closing a database file in this process would drop the POSIX locks the hub's
    /// own SQLite connections hold on it.
    static func filesHold(_ text: String, _ paths: [String]) async throws -> [String] {
        let existing = paths.filter { FileManager.default.fileExists(atPath: $0) }
        guard !existing.isEmpty else { return [] }
        let grep = CLIRunner(executable: URL(fileURLWithPath: "/usr/bin/grep"))
        let result = try await grep.run(["-l", "-a", "-F", "--", text] + existing)
        #expect(result.exitCode == 0 || result.exitCode == 1, "grep failed: \(result)")
        return result.output.split(separator: "\n").map(String.init)
    }

    /// The test console's settings with room for the logins of these tests.
    static func console() -> ConsoleConfiguration {
        var configuration = ConsoleHub.testConfiguration()
        configuration.loginAttemptsPerAddress = 50
        configuration.loginAttemptsPerName = 50
        return configuration
    }

    @Test func aSealedReferenceIsOpenedOnlyByResolversAndTheKeyFile() async throws {
        try await ConsoleHub.with(console: Self.console()) { hub in
            try await withProcessFixture { fixture in
                let hubPath = hub.directory.appendingPathComponent("hub.sqlite").path
                try await ConsoleSecurityTests.addOperator(hub, "amina", role: .resolver)
                try await ConsoleSecurityTests.addOperator(hub, "vic", role: .viewer)

                // The key: sealed to the resolver who has a key pair (made at setup), and written for an offline holder.
                let keyPath = fixture.path("informant.key")
                let made = try await fixture.run("syncd", ["informant-key", "init", "--db", hubPath, "--out", keyPath])
                #expect(made.exitStatus == 0, "\(made)")
                #expect(made.output.contains("Sealed to: amina."))
                #expect(PrivateFile.isExposed(keyPath) == false, "the key file is 0600")
                let again = try await fixture.run("syncd", ["informant-key", "init", "--db", hubPath])
                #expect(again.exitStatus == 1 && again.stderr.contains("already has an informant key"))

                // An enrolled device without the key refuses to record a reference (exit 92), and writes nothing.
                let device = fixture.path("device.sqlite")
                try await fixture.initReplica(device)
                let code = try await DeviceAdministration(store: hub.store).addDevice(name: "amina-laptop", lifetime: .seconds(600)).code
                #expect(try await fixture.fieldcli(device, ["enroll"], ["--hub", hub.url, "--code", code]).exitStatus == 0)
                let refPath = fixture.path("ref.txt")
                try Data((Self.reference + "\n").utf8).write(to: URL(fileURLWithPath: refPath))
                let refused = try await fixture.fieldcli(
                    device, ["record", "observation"], Self.observationFlags + ["--informant-ref-file", refPath])
                #expect(refused.exitStatus == 92, "\(refused)")
                #expect(refused.stderr.contains("sync once"))
                // The same for an import: the line is named, nothing is written.
                let sample = try JSONSerialization.jsonObject(with: Data(SampleRecords.observation.utf8))
                let line = try JSONSerialization.data(withJSONObject: sample, options: [.sortedKeys])
                let importPath = fixture.path("reports.jsonl")
                try (line + Data("\n".utf8)).write(to: URL(fileURLWithPath: importPath))
                let importRefused = try await fixture.fieldcli(device, ["import", "observations", importPath])
                #expect(importRefused.exitStatus == 82 && importRefused.stderr.contains("source_protection.informant_ref"), "\(importRefused)")

                #expect(try await fixture.fieldcli(device, ["status"]).output.contains("none yet (sync to fetch it"))

                // Synced once, it holds the key and seals the reference before signing.
                #expect(try await fixture.run("fieldcli", ["sync", "--db", device, "--hub", hub.url]).exitStatus == 0)
                let keyID = try #require(try hub.store.informantKey()?.publicKey.keyID)
                let status = try await fixture.fieldcli(device, ["status"], ["--json"])
                let fields = try #require(try JSONSerialization.jsonObject(with: Data(status.output.utf8)) as? [String: Any])
                #expect(fields["informantKey"] as? String == keyID)
                #expect(try hub.store.documents(in: RecordKind.observation.collection, limit: 10, after: nil).documents.isEmpty, "the refused record was not written")
                let recorded = try await fixture.fieldcli(
                    device, ["record", "observation"], Self.observationFlags + ["--informant-ref-file", refPath])
                #expect(recorded.exitStatus == 0, "\(recorded)")
                let id = try #require(recorded.output.split(separator: "\n").last.map(String.init))
                // An import and a put seal theirs too.
                #expect(try await fixture.fieldcli(device, ["import", "observations", importPath]).exitStatus == 0)
                let putBody = String(decoding: line, as: UTF8.self).replacingOccurrences(of: SampleRecords.informant, with: "Sheikh K. at the mill")
                #expect(try await fixture.fieldcli(device, ["put", "observations"], ["--body", putBody]).exitStatus == 0)
                #expect(try await fixture.run("fieldcli", ["sync", "--db", device, "--hub", hub.url]).exitStatus == 0)
                #expect(try hub.store.documents(in: RecordKind.observation.collection, limit: 10, after: nil).documents.count == 3)

                let key = DocumentKey(collection: RecordKind.observation.collection, id: try #require(DocumentID(id)))
                let stored = try #require(try hub.store.document(key)?.siblings.first?.body)
                #expect(String(decoding: stored, as: UTF8.self).contains(InformantSeal.prefix))
                // A captor of the hub's database or of the device finds no reference.
                let files = [hubPath, hubPath + "-wal", device, device + "-wal"]
                #expect(try await Self.filesHold(Self.reference, files).isEmpty)
                #expect(try await Self.filesHold("0912 44 81 07", files).isEmpty)
                #expect(try await Self.filesHold("555 0100", files).isEmpty, "the imported reference is sealed")
                #expect(try await Self.filesHold("Sheikh K.", files).isEmpty, "the put reference is sealed")
                #expect(try await Self.filesHold(InformantSeal.prefix, [hubPath, hubPath + "-wal"]).count >= 1, "the grep finds what is there")

                // A resolver's session opens it; a viewer's never does.
                let resolver = ConsoleBrowser(base: hub.url)
                #expect(try await resolver.logIn("amina", ConsoleSecurityTests.password).status == 303)
                let opened = try await resolver.get("/console/conflicts/observations/\(id)")
                #expect(opened.body.contains(Self.reference))
                let viewer = ConsoleBrowser(base: hub.url)
                #expect(try await viewer.logIn("vic", ConsoleSecurityTests.password).status == 303)
                let hidden = try await viewer.get("/console/conflicts/observations/\(id)")
                #expect(hidden.status == 200 && hidden.body.contains("(sealed)") && !hidden.body.contains("0912"))
                // Logging out drops the key: the same session cookie after a new login has no key until it opens it again.
                let out = try await resolver.post("/console/logout", [("csrf", opened.csrf ?? "")])
                #expect(out.status == 303)

                // The offline holder opens it with the key file.
                let offline = try await fixture.run(
                    "syncd", ["informant-refs", "open", "observations", id, "--db", hubPath, "--key-file", keyPath])
                #expect(offline.exitStatus == 0 && offline.output.contains(Self.reference), "\(offline)")
                let wrongKeyPath = fixture.path("other.key")
                try PrivateFile.write(Data(InformantPrivateKey().fileText.utf8), to: wrongKeyPath)
                let wrong = try await fixture.run(
                    "syncd", ["informant-refs", "open", "observations", id, "--db", hubPath, "--key-file", wrongKeyPath])
                #expect(wrong.exitStatus == 78 && !wrong.output.contains(Self.reference))

                // An operator added later gets the key when a holder logs in, and opens it at their next login.
                try await ConsoleSecurityTests.addOperator(hub, "bola", role: .admin)
                let bola = ConsoleBrowser(base: hub.url)
                #expect(try await bola.logIn("bola", ConsoleSecurityTests.password).status == 303)
                #expect(try await bola.get("/console/conflicts/observations/\(id)").body.contains("(sealed)"))
                #expect(try await ConsoleBrowser(base: hub.url).logIn("amina", ConsoleSecurityTests.password).status == 303)
                let bolaAgain = ConsoleBrowser(base: hub.url)
                #expect(try await bolaAgain.logIn("bola", ConsoleSecurityTests.password).status == 303)
                #expect(try await bolaAgain.get("/console/conflicts/observations/\(id)").body.contains(Self.reference))

                // Nothing of the reference in the audit log.
                let audit = try hub.store.auditEntries(after: 0, limit: 500)
                #expect(audit.contains { $0.action == .informantKeyGranted && $0.subject == "bola" })
                #expect(!audit.contains { entry in entry.detail.values.contains { $0.contains("0912") } })
            }
        }
    }

    /// A hub without an informant key costs a no-op sync no second request each time: a device
    /// asks at most every 6 hours, or at its next sync after a write was refused for the want of it.
    @Test func aDeviceAsksForTheKeyAtMostEverySixHours() async throws {
        try await ConsoleHub.with { hub in
            let folder = try TemporaryReplica()
            defer { folder.remove() }
            let device = try folder.create("device")
            let sync = try await ConsoleResolutionTests.device(device, hub, name: "phone")
            try device.pinHub(hub.store.replicaID, key: hub.store.publicKey)
            try await sync.run()
            #expect(try device.informantKey() == nil)
            _ = try hub.store.createInformantKey(InformantPrivateKey(), keyFileWritten: false)
            try await sync.run()
            #expect(try device.informantKey() == nil, "asked a moment ago: not again")
            folder.clock.set(folder.clock.tick() + 6 * 3_600_000)
            try await sync.run()
            #expect(try device.informantKey() != nil, "six hours later it asks")

            let other = try folder.create("other")
            let otherSync = try await ConsoleResolutionTests.device(other, hub, name: "tablet")
            try other.pinHub(hub.store.replicaID, key: hub.store.publicKey)
            try other.noteInformantKeyCheck(peer: otherSync.peer)
            try await otherSync.run()
            #expect(try other.informantKey() == nil)
            try other.clearInformantKeyChecks()
            try await otherSync.run()
            #expect(try other.informantKey() != nil, "after a refused write it asks at once")
        }
    }

    /// A reference in clear (written by a device of an older version) is admitted, as decided in
    /// Docs/Security.md: refusing would quarantine the report at the hub with the reference still
    /// in it. Resolvers see it marked as kept in clear; viewers see "(sealed)".
    @Test func aReferenceInClearFromAnOldDeviceIsAdmittedAndMarked() async throws {
        try await ConsoleHub.with { hub in
            try await withProcessFixture { fixture in
                let lost = try await fixture.run(
                    "syncd", ["informant-key", "init", "--db", hub.directory.appendingPathComponent("hub.sqlite").path])
                #expect(lost.exitStatus == 1 && lost.stderr.contains("would be lost"), "no holder and no --out: refused")
                #expect(try hub.store.informantKey() == nil)
                try await ConsoleSecurityTests.addOperator(hub, "amina", role: .resolver)
                let made = try await fixture.run(
                    "syncd", ["informant-key", "init", "--db", hub.directory.appendingPathComponent("hub.sqlite").path, "--out", fixture.path("k")])
                #expect(made.exitStatus == 0)
                let folder = try TemporaryReplica()
                defer { folder.remove() }
                let old = try folder.create("old")
                let sync = try await ConsoleResolutionTests.device(old, hub, name: "old-laptop")
                try old.pinHub(hub.store.replicaID, key: hub.store.publicKey)
                let key = DocumentKey(collection: RecordKind.observation.collection, id: DocumentID("old-report")!)
                try old.write(WriteIntent(key: key, body: Data(SampleRecords.observation.utf8)))
                try await sync.run()
                #expect(try old.informantKey() != nil, "the sync fetched the key")
                #expect(try hub.store.document(key) != nil, "admitted, not set aside")

                let resolver = ConsoleBrowser(base: hub.url)
                #expect(try await resolver.logIn("amina", ConsoleSecurityTests.password).status == 303)
                let shown = try await resolver.get("/console/conflicts/observations/old-report")
                #expect(shown.body.contains("(sealed) (stored in clear by an older device)") && !shown.body.contains("Imam Y."))
                let viewer = try await ConsoleSecurityTests.loggedIn(hub, "vic", role: .viewer)
                let hidden = try await viewer.get("/console/conflicts/observations/old-report")
                #expect(hidden.body.contains("(sealed)") && !hidden.body.contains("Imam Y."))
            }
        }
    }
}

extension CLIResult {
    /// The exit status; nil when a signal ended the process.
    fileprivate var exitStatus: Int32? { signaled ? nil : exitCode }
}

extension ProcessFixture {
    /// `fieldcli SUBCOMMAND… --db DATABASE ARGUMENTS…`.
    fileprivate func fieldcli(_ database: String, _ subcommand: [String], _ arguments: [String] = []) async throws -> CLIResult {
        try await run("fieldcli", subcommand + ["--db", database] + arguments)
    }

    /// `fieldcli init` (`--encrypt` under `VIGIL_TEST_ENCRYPTED=1`).
    fileprivate func initReplica(_ database: String) async throws {
        let outcome = try await fieldcli(database, TemporaryReplica.encrypting ? ["init", "--encrypt"] : ["init"])
        guard outcome.exitStatus == 0 else { throw ProcessFixtureError("fieldcli init failed: \(outcome)") }
    }
}
