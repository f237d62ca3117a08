import ArgumentParser
import Foundation
import ReplicaStore
import SyncEngine
import SyncHub

extension Syncd {
    /// `syncd audit`: the hub's append-only audit log, on the hub machine. Works on the hub's
    /// database directly (no HTTP), also while `syncd serve` runs.
    struct Audit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Read the hub's audit log and check that its hash chain is unbroken.",
            subcommands: [List.self, Verify.self])

        /// The exit code of `syncd audit verify` when the chain is broken (EX_DATAERR).
        static let brokenChain = ExitCode(65)

        static func open(_ hub: Devices.HubDatabase) -> AuditAdministration {
            var configuration = HubConfiguration.fromEnvironment()
            if let db = hub.db { configuration.databasePath = db }
            let path = configuration.databasePath
            return Devices.run {
                do {
                    return try AuditAdministration.open(databasePath: path)
                } catch let error as StoreError where error.code == .replicaMissing {
                    throw DeviceAdministrationError(
                        "There is no hub database at \(path); point --db (or VIGIL_HUB_DB) at the hub's replica file.")
                }
            }
        }
    }
}

extension Syncd.Audit {
    /// `syncd audit list`.
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List audit entries, oldest first: enrollments, scope changes, revocations, quarantines, resolutions.")

        @OptionGroup var hub: Syncd.Devices.HubDatabase

        @Option(help: ArgumentHelp("List the entries after this sequence number.", valueName: "n"))
        var after: Int64 = 0

        @Option(help: ArgumentHelp("At most this many entries (default 100).", valueName: "n"))
        var limit = 100

        @Flag(help: "Print one JSON document on stdout.")
        var json = false

        func validate() throws {
            if after < 0 { throw ValidationError("--after takes a sequence number, 0 or more.") }
            if !(1...100_000).contains(limit) { throw ValidationError("--limit takes a number from 1 to 100000.") }
        }

        func run() async throws {
            let audit = Syncd.Audit.open(hub)
            let (entries, more) = Syncd.Devices.run { try audit.entries(after: after, limit: limit) }
            if json {
                let objects: [[String: Any]] = entries.map { entry in
                    [
                        "sequence": entry.sequence, "at": Syncd.Devices.time(entry.at), "actor": entry.actor,
                        "action": entry.action.rawValue, "subject": entry.subject, "detail": entry.detail,
                        "previousHash": Self.hex(entry.previousHash), "hash": Self.hex(entry.hash),
                    ]
                }
                let data = try JSONSerialization.data(
                    withJSONObject: ["entries": objects, "more": more], options: [.sortedKeys, .withoutEscapingSlashes])
                print(String(decoding: data, as: UTF8.self))
                return
            }
            guard !entries.isEmpty else {
                print(after == 0 ? "The audit log is empty." : "No audit entries after #\(after).")
                return
            }
            for entry in entries {
                let detail = entry.detail.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
                print(
                    "#\(entry.sequence)  \(Syncd.Devices.time(entry.at))  \(entry.actor)  \(entry.action)  \(entry.subject)\(detail.isEmpty ? "" : "  \(detail)")")
            }
            if more, let last = entries.last {
                print("More entries follow: syncd audit list --after \(last.sequence)")
            }
        }

        static func hex(_ data: Data) -> String { data.map { String(format: "%02x", $0) }.joined() }
    }

    /// `syncd audit verify`.
    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the audit log's hash chain; exit 65 naming the first broken entry.",
            discussion: """
                Every entry carries the hash of the one before it, so an entry changed, removed, \
                inserted or reordered in the file breaks the chain from there on. Removing the newest \
                entries leaves a shorter chain that still verifies: keep the newest hash this command \
                prints somewhere else, and compare.
                """)

        @OptionGroup var hub: Syncd.Devices.HubDatabase

        func run() async throws {
            let audit = Syncd.Audit.open(hub)
            switch Syncd.Devices.run({ try audit.verify() }) {
            case .intact(let position):
                switch position.count {
                case 0: print("The audit log is empty; there is nothing to check.")
                case 1: print("The audit log's 1 entry chains correctly.")
                default: print("The audit log's \(position.count) entries chain correctly.")
                }
                if position.count > 0 {
                    print("The newest is #\(position.sequence), hash \(List.hex(position.hash)).")
                }
            case .broken(let broken):
                FileHandle.standardError.write(Data("syncd: \(broken.description)\n".utf8))
                throw Syncd.Audit.brokenChain
            }
        }
    }
}
