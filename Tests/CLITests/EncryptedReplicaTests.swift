import AtRest
import Foundation
@testable import ReplicaStore
import SyncClient
import SyncEngine
import Testing
import TestSupport

/// `fieldcli init --encrypt` and the commands on an encrypted replica, through the built binary.
/// Passphrases come from files here (there is no terminal); scrypt runs with N = 2^10
/// (`VIGIL_SCRYPT_LOGN=10`) so the suite stays fast.
@Suite("Encrypted replicas")
struct EncryptedReplicaTests {
    static let passphrase = "a long passphrase for tests"
    static let wrongPassphrase: Int32 = 79
    static let locked: Int32 = 80

    /// A sandbox whose replica lives alone in `field/`, so a captor's copy of that folder holds
    /// nothing but the replica's files; the passphrase and report files are beside it.
    struct Field {
        let sandbox: CLISandbox
        let replica: String
        let passphraseFile: String
        let encrypted: Bool

        init(encrypted: Bool = true) throws {
            sandbox = try CLISandbox(followsEncryptedRun: false)
            replica = sandbox.path("field/replica.sqlite")
            passphraseFile = sandbox.path("passphrase")
            self.encrypted = encrypted
            try Self.writePrivate(passphraseFile, EncryptedReplicaTests.passphrase + "\n")
        }

        /// The same replica and files, seen as encrypted or not.
        init(sandbox: CLISandbox, replica: String, passphraseFile: String, encrypted: Bool) {
            self.sandbox = sandbox
            self.replica = replica
            self.passphraseFile = passphraseFile
            self.encrypted = encrypted
        }

        var folder: URL { URL(fileURLWithPath: replica).deletingLastPathComponent() }

        static func writePrivate(_ path: String, _ text: String) throws {
            guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]) else {
                throw CLIRunnerError("Cannot write \(path).")
            }
        }

        /// `fieldcli ARGUMENTS --db REPLICA`, with the passphrase file when encrypted.
        func run(_ arguments: [String], passphraseFile: String? = nil, stdin: String? = nil) async throws -> CLIResult {
            var all = arguments + ["--db", replica]
            if encrypted { all += ["--passphrase-file", passphraseFile ?? self.passphraseFile] }
            return try await sandbox.runner.run(all, stdin: stdin.map { Data($0.utf8) }, environment: ["VIGIL_SCRYPT_LOGN": "10"])
        }

        @discardableResult
        func succeed(_ arguments: String..., stdin: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) async throws -> CLIResult {
            let result = try await run(arguments, stdin: stdin)
            #expect(result.succeeded, "\(result)", sourceLocation: sourceLocation)
            return result
        }

        func initialize() async throws {
            try await succeed(contentsOf: encrypted ? ["init", "--encrypt"] : ["init"])
        }

        @discardableResult
        func succeed(contentsOf arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) async throws -> CLIResult {
            let result = try await run(arguments)
            #expect(result.succeeded, "\(result)", sourceLocation: sourceLocation)
            return result
        }

        /// The replica opened in this process, with the passphrase.
        func open() throws -> ReplicaStore {
            var options = ReplicaStore.Options()
            options.passphrase = { try Passphrase(EncryptedReplicaTests.passphrase) }
            options.unlockDelay = .zero
            return try ReplicaStore.open(at: replica, options: options)
        }
    }

    @Test("init --encrypt makes an encrypted replica that put, get and list use with the passphrase file")
    func encryptedReplicaWorks() async throws {
        let field = try Field()
        let created = try await field.succeed("init", "--encrypt", "--json").json()
        #expect(created["encrypted"] as? Bool == true)
        #expect(FileManager.default.fileExists(atPath: ReplicaStore.dataKeyPath(forReplicaAt: field.replica)))
        #expect(FilePermissionTests.mode(ReplicaStore.dataKeyPath(forReplicaAt: field.replica)) == 0o600)
        let id = try await field.succeed("put", "reports", "--body", #"{"title": "Road blocked at the bridge"}"#).output
        let document = try await field.succeed("get", "reports", id, "--json").json()
        let siblings = try #require(document["siblings"] as? [[String: Any]])
        #expect((siblings.first?["body"] as? [String: Any])?["title"] as? String == "Road blocked at the bridge")
        #expect(try await field.succeed("list", "reports").output.contains(id))
        #expect(try field.open().isEncrypted)
    }

    /// A captor guessing: one sentence, exit 79, the passphrase not echoed, nothing written.
    @Test("a wrong passphrase exits 79 with one sentence and leaves the replica as it was")
    func wrongPassphrase() async throws {
        let field = try Field()
        try await field.initialize()
        try await field.succeed("put", "reports", "--body", #"{"title": "Road blocked"}"#)
        let wrong = field.sandbox.path("wrong")
        try Field.writePrivate(wrong, "not the passphrase at all\n")
        let before = try Data(contentsOf: URL(fileURLWithPath: field.replica))
        for arguments in [["list", "reports"], ["put", "reports", "--body", #"{"title": "x"}"#], ["status"]] {
            let result = try await field.run(arguments, passphraseFile: wrong)
            #expect(result.exitCode == Self.wrongPassphrase, "\(result)")
            #expect(result.stderr.hasPrefix("fieldcli: ") && result.stderr.split(separator: "\n").count == 1, "\(result)")
            #expect(result.stderr.contains("passphrase"), "\(result)")
            #expect(!result.stderr.contains("not the passphrase at all"), "\(result)")
            #expect(result.stdout.isEmpty, "\(result)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: field.replica)) == before)
        #expect(try field.open().status().versions == 1)
    }

    /// Regression: one sealed body altered on the disk made `verify` (and every command) fail
    /// with exit 74 instead of listing that version; the sentence also ended in "..".
    @Test(
        "verify lists a version whose sealed body does not open, with exit 65; reading it fails in one sentence",
        .enabled(if: SQLiteShell.isInstalled, "needs the sqlite3 shell"))
    func alteredSealedBody() async throws {
        let field = try Field()
        try await field.initialize()
        let kept = try await field.succeed("put", "reports", "--body", #"{"title": "Road blocked"}"#).output
        let altered = try await field.succeed("put", "reports", "--body", #"{"title": "Shots heard"}"#).output
        try VerifyTests.alterOneByte(of: altered, in: field.replica, sealed: true)

        let result = try await field.run(["verify", "--json"])
        #expect(result.exitCode == 65, "\(result)")
        let report = try result.json()
        let invalid = try #require(report["invalid"] as? [[String: Any]])
        #expect(invalid.map { $0["id"] as? String } == [altered])
        #expect((invalid.first?["reason"] as? String)?.contains("does not open") == true)
        #expect(report["checked"] as? Int == 2 && report["valid"] as? Int == 1)
        let read = try await field.run(["get", "reports", altered])
        #expect(read.exitCode == Exit.diskOrIO && read.stderr.contains("does not open"), "\(read)")
        #expect(read.stderr.split(separator: "\n").count == 1 && !read.stderr.contains(".."), "\(read)")
        try await field.succeed("get", "reports", kept)
    }

    @Test("init --encrypt refuses a passphrase file others can read, and an empty one")
    func unusablePassphraseFiles() async throws {
        let field = try Field()
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: field.passphraseFile)
        let exposed = try await field.run(["init", "--encrypt"])
        #expect(exposed.exitCode == Self.locked, "\(exposed)")
        #expect(!FileManager.default.fileExists(atPath: field.replica))
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: field.passphraseFile)
        try Data("\n".utf8).write(to: URL(fileURLWithPath: field.passphraseFile))
        let empty = try await field.run(["init", "--encrypt"])
        #expect(empty.exitCode == 64, "\(empty)")
        #expect(!FileManager.default.fileExists(atPath: field.replica))
    }

    /// Without a passphrase file and without a terminal (a script, a service), an encrypted
    /// replica is not opened: exit 80. Only run where this test process has no terminal itself,
    /// since the child would otherwise ask on it.
    @Test(
        "an encrypted replica without a passphrase file or terminal exits 80",
        .enabled(if: open("/dev/tty", O_RDWR | O_NOCTTY) < 0))
    func noTerminal() async throws {
        let field = try Field()
        try await field.initialize()
        let result = try await field.sandbox.runner.run(["list", "reports", "--db", field.replica])
        #expect(result.exitCode == Self.locked, "\(result)")
        #expect(result.stderr.contains("terminal"), "\(result)")
    }

    /// `fieldcli encrypt` on a replica that was in clear, enrolled and synced: afterwards the
    /// captor's copy holds none of its reports, its key or its credential (the cleartext cells were
    /// overwritten, the WAL emptied), and it goes on working and syncing with the passphrase.
    @Test("encrypt seals an existing replica in place: nothing readable is left in its files, and it syncs on")
    func encryptAnExistingReplica() async throws {
        let plain = try Field(encrypted: false)
        try await plain.initialize()
        let ids = [
            try await plain.succeed("put", "reports", "--body", #"{"title": "Checkpoint at Kutum moved north"}"#).output,
            try await plain.succeed("put", "reports", "--body", #"{"title": "Shelling near Kabkabiya market"}"#).output,
        ]
        try await plain.succeed("put", "reports", ids[0], "--body", #"{"title": "Checkpoint at Kutum moved north again"}"#)
        try await HubFixture.withHub { hub in
            try await plain.succeed("enroll", "--hub", hub.url.absoluteString, "--code", try await hub.enrollmentCode(name: "observer"))
            try await plain.succeed("sync")
            let credential = try HubCredentials.resolve(hub: nil, token: nil, store: try ReplicaStore.open(at: plain.replica), environment: [:]).token
            let rawKey = try ReplicaStore.open(at: plain.replica).key.rawRepresentation

            let field = Field(sandbox: plain.sandbox, replica: plain.replica, passphraseFile: plain.passphraseFile, encrypted: true)
            try await field.succeed("encrypt")
            let needles: [(String, Data)] = [
                ("title", Data("Kutum".utf8)), ("other title", Data("Kabkabiya".utf8)),
                ("device key", rawKey), ("device key, base64", Data(rawKey.base64EncodedString().utf8)),
                ("credential", Data(credential.utf8)),
            ]
            var found: [String: [String]] = [:]
            for name in try FileManager.default.contentsOfDirectory(atPath: field.folder.path) {
                let bytes = try Data(contentsOf: field.folder.appendingPathComponent(name))
                for (what, needle) in needles where bytes.range(of: needle) != nil { found[what, default: []].append(name) }
            }
            #expect(found.isEmpty, "found after encrypt: \(found)")
            let document = try await field.succeed("get", "reports", ids[1], "--json").json()
            #expect("\(document)".contains("Kabkabiya"))
            try await field.succeed("put", "reports", "--body", #"{"title": "After encryption"}"#)
            try await field.succeed("sync")
        }
    }

    @Test("passphrase changes the passphrase from files: the new one opens, the old one exits 79")
    func changePassphrase() async throws {
        let field = try Field()
        try await field.initialize()
        let id = try await field.succeed("put", "reports", "--body", #"{"title": "Road blocked"}"#).output
        let new = field.sandbox.path("new")
        try Field.writePrivate(new, "another long passphrase\n")
        try await field.succeed("passphrase", "--new-passphrase-file", new)
        let old = try await field.run(["get", "reports", id])
        #expect(old.exitCode == Self.wrongPassphrase, "\(old)")
        let read = try await field.run(["get", "reports", id], passphraseFile: new)
        #expect(read.succeeded && read.stdout.contains("Road blocked"), "\(read)")
    }

    /// `syncd run` on an encrypted replica reads its passphrase file once, at start, and then
    /// syncs on its own; with a wrong passphrase it stops at once with one line.
    @Test("syncd run unlocks an encrypted replica once at start and delivers its reports; a wrong passphrase stops it")
    func daemonUnlocksOnce() async throws {
        let field = try Field()
        try await field.initialize()
        try await withProcessFixture { fixture in
            try await HubFixture.withHub { hub in
                try await field.succeed("enroll", "--hub", hub.url.absoluteString, "--code", try await hub.enrollmentCode(name: "observer"))
                let id = try await field.succeed("put", "reports", "--body", #"{"title": "Convoy at the crossing"}"#).output
                let key = DocumentKey(collection: try #require(CollectionName("reports")), id: try #require(DocumentID(id)))

                let wrong = field.sandbox.path("wrong")
                try Field.writePrivate(wrong, "not it\n")
                let refused = try fixture.start("syncd", ["run", "--db", field.replica, "--passphrase-file", wrong])
                let ended = try await refused.waitForExit(timeout: .seconds(30))
                // 64: only the passphrase file mends it, so its unit does not restart it (each
                // restart cost a key derivation; RestartPreventExitStatus=64 77).
                #expect(ended == .exited(64), "\(refused.standardError)")
                #expect(refused.standardError.contains("passphrase") && !refused.standardError.contains("not it"), "\(refused.standardError)")

                let daemon = try fixture.start(
                    "syncd", ["run", "--db", field.replica, "--passphrase-file", field.passphraseFile, "--interval", "1"])
                let deadline = ContinuousClock.now + .seconds(30)
                var delivered = false
                while !delivered, ContinuousClock.now < deadline, daemon.isRunning {
                    try await Task.sleep(for: .milliseconds(200))
                    delivered = try hub.store.document(key) != nil
                }
                #expect(delivered, "\(daemon.standardError.suffix(2000))")
                daemon.send(signal: SIGTERM)
                #expect(try await daemon.waitForExit(timeout: .seconds(20)) == .exited(0), "\(daemon.standardError.suffix(2000))")
            }
        }
    }

    /// The key test of issue 16: an observer records reports with distinctive text and an
    /// informant reference on an encrypted replica, enrolls with a hub and syncs; a captor copies
    /// the replica's folder (database, WAL and shared memory as they are, key files) and searches
    /// every byte for the texts, the informant reference, the device key and the hub credential:
    /// nothing. On a replica in clear the same search finds them, so it can fail.
    @Test("a captor's copy of an encrypted replica holds no report text, informant, key or credential", arguments: [true, false])
    func captor(encrypted: Bool) async throws {
        let field = try Field(encrypted: encrypted)
        try await field.initialize()
        let notes = "Men in grey pickups burned the Tawila clinic at dawn"
        let reportFile = field.sandbox.path("observation.json")
        try Field.writePrivate(reportFile, RecordBodies.observation(extra: " \(notes)."))
        try await field.succeed("record", "observation", "--from", reportFile)
        try await field.succeed("put", "reports", "--body", #"{"title": "Checkpoint at Kutum moved north overnight"}"#)
        try await HubFixture.withHub { hub in
            try await field.succeed("enroll", "--hub", hub.url.absoluteString, "--code", try await hub.enrollmentCode(name: "observer"))
            try await field.succeed("put", "reports", "--body", #"{"title": "Second checkpoint near Kabkabiya"}"#)
            try await field.succeed("sync")
        }
        let store = try field.open()
        let credential = try HubCredentials.resolve(hub: nil, token: nil, store: store, environment: [:]).token
        let needles: [(String, Data)] = [
            ("informant reference", Data(RecordBodies.secret.utf8)),
            ("notes", Data(notes.utf8)),
            ("report title", Data("Checkpoint at Kutum".utf8)),
            ("report written after enrolling", Data("Kabkabiya".utf8)),
            ("device key", store.key.rawRepresentation),
            ("device key, base64", Data(store.key.rawRepresentation.base64EncodedString().utf8)),
            ("credential", Data(credential.utf8)),
        ]
        let files = try FileManager.default.contentsOfDirectory(atPath: field.folder.path)
        #expect(files.contains("replica.sqlite-wal") && files.contains("replica.sqlite.credential"), "\(files)")
        var found: [String: [String]] = [:]
        for name in files {
            let bytes = try Data(contentsOf: field.folder.appendingPathComponent(name))
            for (what, needle) in needles where bytes.range(of: needle) != nil { found[what, default: []].append(name) }
        }
        if encrypted {
            #expect(found.isEmpty, "found in the captor's copy: \(found)")
        } else {
            for what in ["informant reference", "notes", "report title", "device key, base64", "credential"] {
                #expect(found[what] != nil, "\(what) not found in clear: \(found)")
            }
        }
    }
}
