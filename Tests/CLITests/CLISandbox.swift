import Foundation
import ReplicaStore
import SyncEngine
import Testing
import TestSupport

/// The exit codes `fieldcli` documents (see `Sources/fieldcli/ExitCodes.swift`).
enum Exit {
    static let success: Int32 = 0
    static let usage: Int32 = 64
    static let invalidInput: Int32 = 65
    static let noReplica: Int32 = 66
    static let notFound: Int32 = 67
    static let conflict: Int32 = 68
    static let notAReplica: Int32 = 70
    static let replicaExists: Int32 = 71
    static let cannotWrite: Int32 = 73
    static let diskOrIO: Int32 = 74
}

/// A temporary folder with a `fieldcli` runner whose `VIGIL_DB` points at `replica.sqlite` in it.
final class CLISandbox: Sendable {
    let directory: URL
    let runner: CLIRunner

    /// A new sandbox; under `VIGIL_TEST_ENCRYPTED=1` its runs read the tests' passphrase unless
    /// `followsEncryptedRun` is false (for a suite that chooses and passes passphrases itself).
    init(followsEncryptedRun: Bool = true) throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("vigil-cli-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var environment = [
            "VIGIL_DB": directory.appendingPathComponent("replica.sqlite").path,
            "HOME": directory.path,
        ]
        if TemporaryReplica.encrypting && followsEncryptedRun {
            // Every run reads the passphrase from a private file beside the folder (tests that
            // look at the folder's files see only the replica's); scrypt is cheap (tests only).
            let file = directory.path + ".passphrase"
            let text = Data((TemporaryReplica.passphrase + "\n").utf8)
            guard FileManager.default.createFile(atPath: file, contents: text, attributes: [.posixPermissions: 0o600]) else {
                throw CLIRunnerError("Cannot write \(file).")
            }
            environment["VIGIL_PASSPHRASE_FILE"] = file
            environment["VIGIL_SCRYPT_LOGN"] = "10"
        }
        runner = try CLIRunner(environment: environment)
    }

    deinit {
        try? FileManager.default.removeItem(at: directory)
        try? FileManager.default.removeItem(atPath: directory.path + ".passphrase")
    }

    /// The default replica's path (`$VIGIL_DB` of every run).
    var replicaPath: String { path("replica.sqlite") }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// Runs `fieldcli` with `arguments`.
    @discardableResult
    func fieldcli(_ arguments: String..., stdin: String? = nil) async throws -> CLIResult {
        try await runner.run(arguments, stdin: stdin.map { Data($0.utf8) })
    }

    /// Runs `fieldcli` and expects it to succeed.
    @discardableResult
    func succeed(_ arguments: String..., stdin: String? = nil, sourceLocation: SourceLocation = #_sourceLocation)
        async throws -> CLIResult
    {
        let result = try await runner.run(arguments, stdin: stdin.map { Data($0.utf8) })
        #expect(result.succeeded, "\(result)", sourceLocation: sourceLocation)
        #expect(result.stderr.isEmpty, "\(result)", sourceLocation: sourceLocation)
        return result
    }

    /// Runs `fieldcli` and expects it to fail with `code` and one sentence on stderr that starts
    /// with `fieldcli: ` and contains `phrase`.
    @discardableResult
    func fail(
        _ code: Int32, mentioning phrase: String, _ arguments: [String], stdin: String? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> CLIResult {
        let result = try await runner.run(arguments, stdin: stdin.map { Data($0.utf8) })
        #expect(!result.signaled && result.exitCode == code, "\(result)", sourceLocation: sourceLocation)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "one line on stderr: \(result)", sourceLocation: sourceLocation)
        #expect(result.stderr.hasPrefix("fieldcli: "), "\(result)", sourceLocation: sourceLocation)
        #expect(result.stderr.localizedCaseInsensitiveContains(phrase), "\(result)", sourceLocation: sourceLocation)
        #expect(!result.stderr.contains("Error:"), "\(result)", sourceLocation: sourceLocation)
        #expect(result.stdout.isEmpty, "\(result)", sourceLocation: sourceLocation)
        return result
    }

    /// Creates the default replica, or the one at `path`, with `fieldcli init` (`init --encrypt`
    /// under `VIGIL_TEST_ENCRYPTED=1`).
    func initialize(_ path: String? = nil) async throws {
        let arguments = ["init"] + (TemporaryReplica.encrypting ? ["--encrypt"] : []) + (path.map { ["--db", $0] } ?? [])
        let result = try await runner.run(arguments)
        #expect(result.succeeded && result.stderr.isEmpty, "\(result)")
    }

    /// Opens the replica at `path` in this process (another connection, as a second process
    /// would), with the tests' passphrase should it be encrypted.
    static func open(_ path: String) throws -> ReplicaStore { try TemporaryReplica.open(at: path) }

    /// Applies every version the replica at `source` holds to the one at `target`, with
    /// `source`'s public key, as a sync would.
    static func deliver(from source: String, to target: String) throws {
        let sender = try open(source)
        let receiver = try open(target)
        let batch = try sender.versions(missingFrom: receiver.knowledge(), limit: 10_000, maxBytes: .max)
        try receiver.savePublicKeys([sender.replicaID: sender.publicKey])
        try receiver.apply(batch.versions, from: sender.replicaID)
    }

    /// The environment a shell of a test's own needs to run `fieldcli` on this sandbox's
    /// replicas: `VIGIL_DB`, and under `VIGIL_TEST_ENCRYPTED=1` the passphrase file and scrypt cost.
    var shellEnvironment: [String: String] { runner.environment }

    /// Writes a document and returns its id.
    func put(_ collection: String, _ body: String, id: String? = nil, extra: [String] = []) async throws -> String {
        let arguments = ["put", collection] + (id.map { [$0] } ?? []) + ["--body", body] + extra
        let result = try await runner.run(arguments)
        #expect(result.succeeded, "\(result)")
        return result.output
    }

    /// What a replica holds, to check that a failed command changed nothing: its status and every
    /// version's dot and signature.
    func snapshot(_ path: String? = nil) async throws -> ReplicaSnapshot {
        let path = path ?? replicaPath
        let status = try await runner.run(["status", "--json", "--db", path])
        #expect(status.succeeded, "\(status)")
        let store = try Self.open(path)
        let versions = try store.feedPage(after: .start, limit: 1_000_000, maxBytes: .max).versions
        return ReplicaSnapshot(
            status: status.stdout, versions: versions.map { "\($0.dot) \($0.signature.base64EncodedString())" },
            integrity: try store.integrityProblems())
    }
}

/// A replica's observable content at one moment.
struct ReplicaSnapshot: Equatable, CustomStringConvertible {
    var status: String
    var versions: [String]
    var integrity: [String]

    var description: String { "\(versions.count) versions, status \(status)" }
}

/// Parses `text` as a JSON object.
func jsonObject(_ text: String) throws -> [String: Any] {
    guard let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
        throw CLIRunnerError("not a JSON object: \(text.prefix(300))")
    }
    return object
}
