import ArgumentParser
import Foundation
import Logging
import ReplicaStore
import SyncClient
import SyncCommandLine

extension FieldCLI {
    struct Sync: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sync",
            abstract: "Exchange with the hub until nothing is left to push or pull.",
            discussion: """
                The hub and credential come from --hub and --token, else VIGIL_HUB and VIGIL_TOKEN, else \
                the ones saved by `fieldcli enroll` in PATH.credential (mode 0600). Pulled versions \
                are checked against their authors' keys; a failure is reported and shown by \
                `fieldcli verify`. A revoked device exits with 77; its local data is kept. \
                Progress goes to stderr when it is a terminal; a summary follows. With --budget \
                the sync stops moving bytes once the budget is spent (documents first, then \
                attachments) and says what is left; the next sync goes on from there.

                Examples:
                  fieldcli enroll --hub http://hub.example:8080 --code 7K2M-Q9XD-4TAB-H3WN
                  fieldcli sync
                  fieldcli sync --budget 5MB
                  fieldcli sync --json | jq .bytesReceived
                """)

        @OptionGroup var options: ReplicaOptions

        @OptionGroup var connection: HubConnectionOptions

        @Option(
            name: .long, help: ArgumentHelp(
                "The most bytes to move on the wire, both ways (5MB, 500KB, 1GiB, or bytes); what is left waits.",
                valueName: "SIZE"))
        var budget: ByteBudget?

        func run() async throws {
            let store = try options.open()
            do {
                let (credentials, transport) = try connection.connect(store: store)
                let synchronizer = Synchronizer(
                    store: store, transport: transport, peer: credentials.peerName,
                    configuration: Synchronizer.Configuration(byteBudget: budget?.bytes),
                    logger: Logger(label: "fieldcli.sync") { _ in SwiftLogNoOpLogHandler() })
                let meter = isatty(STDERR_FILENO) == 1 ? ProgressMeter() : nil
                var progress: (@Sendable (SyncProgress) -> Void)?
                if let meter { progress = { meter.show($0) } }
                let summary: SyncSummary
                do {
                    summary = try await synchronizer.run(progress: progress)
                    meter?.finish()
                } catch {
                    meter?.finish()
                    throw error
                }
                try credentials.saveToken(for: store)
                try printSummary(summary, hub: credentials.peerName)
                if summary.budgetSpent, !options.json { try printLeft(store, hub: credentials.peerName) }
                try AttachmentRefusalNote.report(store)
            } catch let error as SyncClientError {
                Console.diagnose(error.messageWithAdvice)
                throw error.code.exitCode
            }
        }

        /// After a sync that spent its budget: what waits both ways.
        private func printLeft(_ store: ReplicaStore, hub: String) throws {
            let status = try SyncStatus.load(store: store, hub: hub)
            let waiting = status.waitingToPush
            let media = try store.attachmentBacklog()
            print(
                Console.highlight(
                    "The budget of \(ByteCount(budget?.bytes ?? 0)) is spent. Left to send: \(waiting) version\(waiting == 1 ? "" : "s") "
                        + "(\(ByteCount(status.bytesToPush))) "
                        + "and \(media.toSend) file\(media.toSend == 1 ? "" : "s") (\(ByteCount(media.bytesToSend))); "
                        + "left to receive: what waits at the hub and \(media.lacked) file\(media.lacked == 1 ? "" : "s"). "
                        + "Run `fieldcli sync` again to go on."))
        }

        private func printSummary(_ summary: SyncSummary, hub: String) throws {
            if options.json {
                try JSONOutput.print([
                    "hub": hub, "versionsPushed": summary.versionsPushed, "versionsPulled": summary.versionsPulled,
                    "rejected": summary.rejected, "bytesSent": summary.bytesSent, "bytesReceived": summary.bytesReceived,
                    "roundTrips": summary.roundTrips, "seconds": (summary.seconds * 1000).rounded() / 1000,
                    "unverified": summary.unverified, "documentsForgotten": summary.documentsForgotten,
                    "budgetSpent": summary.budgetSpent,
                ])
                return
            }
            let trips = summary.roundTrips == 1 ? "1 round trip" : "\(summary.roundTrips) round trips"
            print(
                "Synced with \(hub): pushed \(summary.versionsPushed), pulled \(summary.versionsPulled) "
                    + "(\(trips), \(ByteCount(summary.bytesSent)) sent, \(ByteCount(summary.bytesReceived)) received, "
                    + String(format: "%.1f s).", summary.seconds))
            if summary.unverified > 0 {
                print(
                    Console.highlight(
                        "\(summary.unverified) pulled version\(summary.unverified == 1 ? "" : "s") failed signature verification; see `fieldcli verify`."))
            }
            if summary.documentsForgotten > 0 {
                let count = summary.documentsForgotten
                print(
                    Console.highlight(
                        "This device's read scope narrowed at the hub: \(count) document\(count == 1 ? " is" : "s are") no longer kept here (see `fieldcli status`)."))
            }
            if summary.rejected > 0 {
                print(
                    Console.highlight(
                        "The hub rejected \(summary.rejected) version\(summary.rejected == 1 ? "" : "s"); they are set aside here (see `fieldcli status`)."))
            }
        }
    }
}

extension SyncClientError.Code {
    /// The exit code `fieldcli` ends with on this failure (see `ExitCodes.swift`).
    var exitCode: ExitCode {
        switch self {
        case .unreachable, .hubError, .badAnswer, .redirected, .answerTooLarge: .hubUnreachable
        case .unauthorized, .revoked, .enrollmentRefused, .requestRefused: .refusedByHub
        case .protocolMismatch: .protocolMismatch
        case .notConfigured, .notEnrolled, .invalidHubAddress, .insecureHubAddress, .credentialHubMismatch: .usage
        case .credentialFileExposed: .keyFile
        case .forked: .conflict
        case .untrustedHub: .untrustedHub
        default: .unexpected
        }
    }
}

extension StatusReport {
    /// Adds what `fieldcli status` shows of syncing: hub, last sync, waiting and set-aside versions.
    mutating func addSync(_ sync: SyncStatus) {
        add("hub", sync.hub ?? "none (run `fieldcli enroll --hub URL --code CODE`, then `fieldcli sync`)", key: "hub", value: sync.hub ?? NSNull())
        let formatter = ISO8601DateFormatter()
        let last = sync.lastSyncAt.map { formatter.string(from: Date(timeIntervalSince1970: Double($0) / 1000)) }
        add("last sync", last ?? "never", key: "lastSync", value: last ?? NSNull())
        if let error = sync.lastError {
            add("last error", Console.highlight(error), key: "lastError", value: error)
        }
        if let grants = sync.grants {
            add("may read", grants.read.text, key: "readScope", value: grants.read.patterns.map(\.description))
            add("may write", grants.write.text, key: "writeScope", value: grants.write.patterns.map(\.description))
        }
        if let (hub, fingerprint) = sync.pinnedHubs.min(by: { $0.key < $1.key }) {
            add("hub key", "\(fingerprint) (pinned for hub \(hub.short))", key: "hubKey", value: fingerprint)
        }
        add("to push", "\(sync.waitingToPush) versions (\(ByteCount(sync.bytesToPush)))", key: "waitingToPush", value: sync.waitingToPush)
        add(key: "bytesToPush", value: sync.bytesToPush)
        if !sync.keptApart.isEmpty {
            let entries = sync.keptApart.map { "\($0.version.dot.replica.short):\($0.version.dot.counter) \($0.version.key): \($0.reason.rawValue)" }
            add(
                "kept apart", Console.highlight("\(sync.keptApart.count) pulled versions failed verification: " + entries.joined(separator: "; ")),
                key: "keptApart",
                value: sync.keptApart.map {
                    ["dot": $0.version.dot.description, "document": "\($0.version.key)", "reason": $0.reason.rawValue]
                })
        }
        if sync.setAsideCount > 0 {
            let reasons = sync.setAside.map { "\($0.dot.replica.short):\($0.dot.counter) \($0.key): \($0.reason.detail)" }
            add(
                "rejected", Console.highlight("\(sync.setAsideCount): " + reasons.joined(separator: "; ")),
                key: "rejected",
                value: sync.setAside.map { ["dot": $0.dot.description, "document": "\($0.key)", "code": $0.reason.code.rawValue, "reason": $0.reason.detail] })
        }
    }
}

/// A byte count for people: `512 B`, `3.4 KB`, `1.2 MB`.
struct ByteCount: CustomStringConvertible {
    let bytes: Int
    init(_ bytes: Int) { self.bytes = bytes }

    var description: String {
        switch bytes {
        case ..<1_000: "\(bytes) B"
        case ..<1_000_000: String(format: "%.1f KB", Double(bytes) / 1_000)
        default: String(format: "%.1f MB", Double(bytes) / 1_000_000)
        }
    }
}

/// Progress on stderr, one line rewritten in place: pages, versions and bytes up and down.
final class ProgressMeter: Sendable {
    func show(_ progress: SyncProgress) {
        let line =
            "\rsync: \(progress.roundTrips) page\(progress.roundTrips == 1 ? "" : "s"), "
            + "up \(progress.versionsPushed) versions \(ByteCount(progress.bytesSent)), "
            + "down \(progress.versionsPulled) versions \(ByteCount(progress.bytesReceived))\u{1B}[K"
        FileHandle.standardError.write(Data(line.utf8))
    }

    func finish() {
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}
