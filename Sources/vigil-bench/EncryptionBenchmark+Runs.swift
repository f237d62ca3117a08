import Foundation
import ReplicaStore
import SyncEngine

extension EncryptionBenchmark {
    // MARK: - fieldcli put

    /// `fieldcli put` on two replicas of the shared documents, one encrypted (unlocked by an
    /// agent) and one in clear, alternating which goes first.
    func localWrite(passphraseFile: String, context: BenchmarkContext) throws -> [Figure] {
        let (peer, versions) = try context.corpus.receivedVersions(log: context.log)
        let paths = (clear: context.path("encryption-put-clear.sqlite"), sealed: context.path("encryption-put-sealed.sqlite"))
        defer { Self.remove([paths.clear, paths.sealed], context: context) }
        for (path, encrypted) in [(paths.clear, false), (paths.sealed, true)] {
            context.removeDatabase(at: path)
            let store = try Self.create(at: path, encrypted: encrypted)
            for start in stride(from: 0, to: versions.count, by: context.batchSize) {
                try store.apply(Array(versions[start..<min(start + context.batchSize, versions.count)]), from: peer)
            }
        }
        try Self.unlock(paths.sealed, passphraseFile: passphraseFile, context: context)
        context.log("seeded two replicas with \(versions.count) documents; timing \(context.warmups) + \(context.runs) puts on each, interleaved")
        var corpus = try IncidentCorpus(seed: context.seed &+ 3)
        var clear = (wall: [Double](), cpu: [Double]())
        var sealed = (wall: [Double](), cpu: [Double]())
        for index in 0..<(context.warmups + context.runs) {
            let json = String(decoding: corpus.nextReport(index: versions.count + index).body, as: UTF8.self)
            let order = index.isMultiple(of: 2) ? [false, true] : [true, false]
            for encrypted in order {
                let cost = try TimedProcess(
                    executable: context.fieldcli, arguments: ["put", corpus.collection.rawValue, "--body", json],
                    environment: ["VIGIL_DB": encrypted ? paths.sealed : paths.clear],
                    standardErrorPath: context.path("encryption-put.stderr"), standardOutputPath: "/dev/null"
                ).run()
                guard index >= context.warmups else { continue }
                if encrypted {
                    sealed.wall.append(cost.seconds * 1000)
                    sealed.cpu.append(cost.cpuSeconds * 1000)
                } else {
                    clear.wall.append(cost.seconds * 1000)
                    clear.cpu.append(cost.cpuSeconds * 1000)
                }
            }
        }
        try Self.verifyCount(paths.sealed, expected: versions.count + context.warmups + context.runs)
        return Self.putFigures(clear: clear, sealed: sealed, documents: versions.count, context: context)
    }

    private static func putFigures(
        clear: (wall: [Double], cpu: [Double]), sealed: (wall: [Double], cpu: [Double]), documents: Int,
        context: BenchmarkContext
    ) -> [Figure] {
        let sealedName = "`fieldcli put` on an encrypted replica, unlocked by `fieldcli unlock`'s agent"
        let clearName = "`fieldcli put` on a replica in clear"
        let notes = [
            "wall time from spawn to exit of \(context.runs) runs of each after \(context.warmups) warm-ups, alternating which goes first",
            "both replicas seeded with the same \(documents) documents; the agent answers over its socket, no key derivation",
        ]
        return [
            Figure(
                id: "encryption-put", title: "one local write on an encrypted replica of \(documents) documents, process start included",
                unit: "ms", better: .lower,
                measured: .init(name: sealedName, samples: Samples(sealed.wall), withP90: true),
                reference: .init(name: clearName, samples: Samples(clear.wall), withP90: true),
                targetRatio: 1.3, notes: notes),
            Figure(
                id: "encryption-put-cpu", title: "CPU time (user + system) of the same runs",
                unit: "ms", better: .lower,
                measured: .init(name: sealedName, samples: Samples(sealed.cpu), withP90: true),
                reference: .init(name: clearName, samples: Samples(clear.cpu), withP90: true),
                targetRatio: nil, notes: ["informative"]),
        ]
    }

    // MARK: - Initial pull

    /// The initial pull of the shared versions from `syncd serve` into an encrypted replica
    /// (unlocked by an agent) and into one in clear, alternating which goes first.
    func initialPull(passphraseFile: String, context: BenchmarkContext) throws -> Figure {
        guard let syncd = context.syncd else {
            throw BenchError(.tool, "The encryption benchmark needs --syncd (the release syncd binary).")
        }
        let (peer, versions) = try context.corpus.receivedVersions(log: context.log)
        let hubPath = context.path("encryption-hub.sqlite")
        context.removeDatabase(at: hubPath)
        defer { context.removeDatabase(at: hubPath) }
        try SyncTools.seed(at: hubPath, with: versions, from: peer, writers: context.corpus.writers, batchSize: context.batchSize)
        let hub = try HubProcess(syncd: syncd, databasePath: hubPath, logPath: context.path("encryption-hub.log"))
        defer { hub.stop() }
        var seconds = (clear: [Double](), sealed: [Double]())
        var cpu = (clear: [Double](), sealed: [Double]())
        for round in 0..<context.repeats {
            for encrypted in round.isMultiple(of: 2) ? [false, true] : [true, false] {
                let run = try pull(
                    round: round, encrypted: encrypted, expected: versions.count, hubPath: hubPath,
                    hubURL: "http://127.0.0.1:\(hub.port)", passphraseFile: passphraseFile, context: context)
                if encrypted { seconds.sealed.append(run.seconds); cpu.sealed.append(run.cpuSeconds) } else {
                    seconds.clear.append(run.seconds); cpu.clear.append(run.cpuSeconds)
                }
                context.log("round \(round + 1): \(encrypted ? "encrypted" : "in clear") pull \(String(format: "%.2f", run.seconds)) s, CPU \(String(format: "%.2f", run.cpuSeconds)) s")
            }
        }
        return Figure(
            id: "encryption-initial-pull", title: "pulling \(versions.count) observations into an empty encrypted replica over loopback HTTP",
            unit: "s", better: .lower,
            measured: .init(name: "`fieldcli sync` into an encrypted replica unlocked by an agent", samples: Samples(seconds.sealed), withP90: false),
            reference: .init(name: "`fieldcli sync` into a replica in clear", samples: Samples(seconds.clear), withP90: false),
            targetRatio: 1.2,
            notes: [
                "\(context.repeats) pulls of each from `syncd serve` (no proxy), alternating which goes first; no key derivation",
                "client CPU medians: encrypted \(String(format: "%.2f", Samples(cpu.sealed).median)) s, in clear \(String(format: "%.2f", Samples(cpu.clear).median)) s",
            ])
    }

    /// One initial pull into a new enrolled replica, removed afterwards.
    private func pull(
        round: Int, encrypted: Bool, expected: Int, hubPath: String, hubURL: String, passphraseFile: String,
        context: BenchmarkContext
    ) throws -> TimedProcess.Cost {
        let replica = context.path("encryption-pull-\(round)-\(encrypted ? "sealed" : "clear").sqlite")
        context.removeDatabase(at: replica)
        defer { Self.remove([replica], context: context) }
        let store = try Self.create(at: replica, encrypted: encrypted)
        let token = try SyncTools.enroll(hubPath: hubPath, replica: store.replicaID, publicKey: store.publicKey)
        if encrypted { try Self.unlock(replica, passphraseFile: passphraseFile, context: context) }
        let run = try SyncTools.sync(replica: replica, hub: hubURL, token: token, context: context)
        guard run.versionsPulled == expected else {
            throw BenchError(.verification, "The pull brought \(run.versionsPulled ?? -1) versions of \(expected).")
        }
        try Self.verifyCount(replica, expected: expected)
        return run.cost
    }

    // MARK: - Helpers

    /// The replica at `path` holds `expected` documents.
    static func verifyCount(_ path: String, expected: Int) throws {
        let held = try ReplicaStore.open(at: path, options: options).status().documentsPerCollection.values.reduce(0, +)
        guard held == expected else {
            throw BenchError(.verification, "The replica \(path) holds \(held) documents; it should hold \(expected).")
        }
    }

    /// Locks (ends the agent of) and removes each replica, with its data key file.
    static func remove(_ paths: [String], context: BenchmarkContext) {
        for path in paths {
            lock(path, context: context)
            context.removeDatabase(at: path)
            try? FileManager.default.removeItem(atPath: ReplicaStore.dataKeyPath(forReplicaAt: path))
            try? FileManager.default.removeItem(atPath: path + ".unlock-failures")
        }
    }
}
