import AtRest
import Foundation
import ReplicaStore
import SyncEngine

/// Issue 16: what encryption at rest costs. `fieldcli put` on an encrypted replica of 100,000
/// documents next to one in clear, and the 100,000-version initial pull into an encrypted replica
/// next to one in clear, both in the same run, alternating, with an unlock agent running for the
/// encrypted replicas (so no key derivation in either); the key derivation itself, with the
/// standard scrypt parameters, measured on its own.
struct EncryptionBenchmark: Benchmark {
    let name = "encryption"
    let estimatedSeconds = 150
    static let passphrase = "a long passphrase for the benchmark"

    func run(in context: BenchmarkContext) throws -> [Figure] {
        let passphraseFile = context.path("encryption.passphrase")
        guard FileManager.default.createFile(
            atPath: passphraseFile, contents: Data((Self.passphrase + "\n").utf8), attributes: [.posixPermissions: 0o600])
        else { throw BenchError(.setup, "Cannot write \(passphraseFile).") }
        defer { try? FileManager.default.removeItem(atPath: passphraseFile) }
        let derivation = try keyDerivation(context: context)
        let put = try localWrite(passphraseFile: passphraseFile, context: context)
        let pull = try initialPull(passphraseFile: passphraseFile, context: context)
        return put + [pull, derivation]
    }

    /// Options that open the benchmark's encrypted replicas (in this process only).
    static var options: ReplicaStore.Options {
        var options = ReplicaStore.Options()
        options.passphrase = { try Passphrase(Self.passphrase) }
        options.unlockDelay = .zero
        return options
    }

    /// Creates a replica at `path`, encrypted (standard scrypt parameters) or in clear.
    static func create(at path: String, encrypted: Bool) throws -> ReplicaStore {
        try ReplicaStore.create(at: path, encryptingWith: encrypted ? try Passphrase(passphrase) : nil, options: options)
    }

    /// `fieldcli unlock --for 1h` on the replica at `path`: starts its agent.
    static func unlock(_ path: String, passphraseFile: String, context: BenchmarkContext) throws {
        _ = try TimedProcess(
            executable: context.fieldcli, arguments: ["unlock", "--for", "1h", "--db", path, "--passphrase-file", passphraseFile],
            environment: [:], standardErrorPath: context.path("unlock.stderr"), standardOutputPath: "/dev/null"
        ).run()
    }

    /// `fieldcli lock` on the replica at `path`: ends its agent.
    static func lock(_ path: String, context: BenchmarkContext) {
        _ = try? TimedProcess(
            executable: context.fieldcli, arguments: ["lock", "--db", path], environment: [:],
            standardErrorPath: "/dev/null", standardOutputPath: "/dev/null"
        ).run()
    }

    // MARK: - Key derivation

    /// Unwrapping a data key wrapped with the standard parameters, in this (release) process.
    private func keyDerivation(context: BenchmarkContext) throws -> Figure {
        let passphrase = try Passphrase(Self.passphrase)
        let wrapped = try WrappedDataKey.wrap(DataKey.random(), passphrase: passphrase, parameters: .standard)
        var seconds: [Double] = []
        for _ in 0..<max(3, min(context.runs, 7)) {
            seconds.append(try MonotonicClock.measure { _ = try wrapped.unwrap(passphrase) }.seconds)
        }
        let standard = ScryptParameters.standard
        context.log("scrypt logN \(standard.logN) r \(standard.r) p \(standard.p): median \(String(format: "%.3f", Samples(seconds).median)) s")
        return Figure(
            id: "encryption-key-derivation",
            title: "deriving the wrapping key from a passphrase (scrypt N=2^\(standard.logN), r=\(standard.r), p=\(standard.p)), once per unlock",
            unit: "s", better: .lower,
            measured: .init(name: "`WrappedDataKey.unwrap` in the release vigil-bench process", samples: Samples(seconds), withP90: false),
            reference: .init(name: "the aim: about one second", samples: Samples([1]), withP90: false),
            targetRatio: nil,
            notes: ["informative: paid once per `fieldcli unlock` or per command without an agent, not by the figures above; 256 MiB of memory per derivation"])
    }
}
