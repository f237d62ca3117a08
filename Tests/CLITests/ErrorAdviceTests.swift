import Foundation
import ReplicaStore
import SyncClient
import SyncCommandLine
import SyncEngine
import Testing
import TestSupport

/// The libraries say what happened; the command line says what to do, naming its commands and
/// flags (house rule: "libraries throw codes and facts; only the executables word advice").
/// Until 7 December ReplicaStore, SyncEngine, SyncClient and SyncHub told their callers to run
/// `fieldcli init`, `syncd devices list` or pass `--db`, whichever program called them (the hub's
/// commands told operators to run `fieldcli init` on the hub's file).
@Suite("Advice belongs to the command line")
struct ErrorAdviceTests {
    /// The library targets (SyncCommandLine, the command lines' own, is not one of them).
    static let libraries = [
        "SyncEngine", "Records", "ReplicaStore", "AtRest", "SyncClient", "SyncCompression", "HubStore", "HubStoreSQLite",
        "HubStorePostgres", "SyncHub", "HubConsole",
    ]

    /// Fails on the code before the change: `ReplicaStore.swift` said "run `fieldcli init`", and
    /// `HubCredentials.swift` "enroll it with `fieldcli enroll --hub URL --code CODE`".
    @Test("no string literal of a library names a command or a flag")
    func librariesNameNoCommandOrFlag() throws {
        let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Sources")
        var found: [String] = []
        for library in Self.libraries {
            let folder = sources.appendingPathComponent(library).standardizedFileURL
            let files = try #require(FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil))
            for case let file as URL in files where file.pathExtension == "swift" {
                let lines = try String(contentsOf: file, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
                for (number, line) in lines.enumerated() where Self.namesACommandOrFlag(line) {
                    found.append("\(library)/\(file.lastPathComponent):\(number + 1)")
                }
            }
        }
        #expect(found.isEmpty, "library messages naming a command or flag: \(found)")
    }

    /// Whether a line of code (not a comment) holds a string literal naming `fieldcli`, `syncd`
    /// or a long flag.
    static func namesACommandOrFlag(_ line: Substring) -> Bool {
        let code = line.trimmingCharacters(in: .whitespaces)
        guard !code.hasPrefix("//"), let quote = code.firstIndex(of: "\"") else { return false }
        let literal = code[quote...]
        return literal.contains("`fieldcli") || literal.contains("`syncd") || literal.contains("`chmod")
            || literal.range(of: #"(^|[\s(])--[a-z]"#, options: .regularExpression) != nil
    }

    @Test("the scan sees what it looks for")
    func theScanSeesWhatItLooksFor() {
        #expect(Self.namesACommandOrFlag(#"throw E("There is none; run `fieldcli init`.")"#))
        #expect(Self.namesACommandOrFlag(#"throw E("pass --hub http://host:port.")"#))
        #expect(!Self.namesACommandOrFlag(#"/// run `fieldcli init` ("--db")"#))
        #expect(!Self.namesACommandOrFlag(#"let sql = "SELECT 1 -- a comment""#))
    }

    /// The hub's commands word their own advice for what SyncHub now only names: the device or
    /// code not found, and which TLS file could not be read.
    @Test("syncd points at the list and at the TLS flag")
    func syncdWordsTheHubsAdvice() async throws {
        let sandbox = try CLISandbox()
        let syncd = try CLIRunner(product: "syncd", environment: ["HOME": sandbox.directory.path])
        let hub = sandbox.path("hub.sqlite")
        let unknown = try await syncd.run(["devices", "revoke", "nobody", "--db", hub])
        #expect(unknown.exitCode == 1, "\(unknown)")
        #expect(unknown.stderr.contains("No active device is called or has the replica id 'nobody'. `syncd devices list` shows them."), "\(unknown)")
        let tls = try await syncd.run([
            "serve", "--db", hub, "--listen", "127.0.0.1:0", "--tls-cert", "/nonexistent/cert.pem", "--tls-key", "/nonexistent/key.pem",
        ])
        #expect(tls.exitCode == 1, "\(tls)")
        #expect(tls.stderr.contains("Cannot read a PEM certificate from /nonexistent/cert.pem. Check --tls-cert"), "\(tls)")
    }

    @Test("each executable-facing failure gets its advice from the command line")
    func adviceNamesTheCommand() throws {
        let missing = StoreError(.replicaMissing, "There is no replica at /r.")
        #expect(missing.messageWithAdvice.hasPrefix("There is no replica at /r. "))
        #expect(missing.messageWithAdvice.contains("`fieldcli init`"))
        #expect(missing.messageWithAdvice.contains("--db (or VIGIL_DB)"))

        let key = DocumentKey(collection: try #require(CollectionName("reports")), id: try #require(DocumentID("d1")))
        let unknown = StoreError(.documentNotFound, "There is no document reports/d1 in this replica.", facts: key.facts)
        #expect(unknown.messageWithAdvice.contains("`fieldcli list reports`"))
        let conflicted = SyncEngineError(.conflict, "reports/d1 has 2 conflicting versions.", facts: key.facts)
        #expect(conflicted.messageWithAdvice.contains("`fieldcli conflicts resolve reports d1`"))
        let clean = SyncEngineError(.conflict, "reports/d1 is not in conflict; there is nothing to resolve.")
        #expect(clean.messageWithAdvice == clean.message, "no key, no advice")

        #expect(SyncClientError(.notEnrolled, "No hub is configured for this replica.").messageWithAdvice.contains("`fieldcli enroll --hub URL --code CODE`"))
        #expect(SyncClientError(.insecureHubAddress, "Plain HTTP.").messageWithAdvice.contains("--allow-insecure-http"))
        #expect(SyncClientError(.invalidHubAddress, "Not a URL.").messageWithAdvice.contains("--hub https://host:port"))
    }
}
