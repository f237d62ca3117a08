import ArgumentParser
import Foundation
import ReplicaStore
import SyncClient
import SyncEngine

extension FieldCLI {
    /// `fieldcli bundle`: reports carried on a USB stick or a phone where no link exists.
    struct BundleCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "bundle",
            abstract: "Move reports without a link: export a bundle file, import one.",
            discussion: """
                A bundle holds versions with their signatures, the hub's certificates of their \
                authors' keys and its revocation notices, and what the exporting replica holds. The \
                receiving device verifies it like a pull, the hub like a push (`syncd bundle import`). \
                Importing a bundle twice changes nothing; a cut short or altered file changes nothing \
                and exits 90; a bundle of another network exits 91.

                Examples:
                  fieldcli bundle export --all --out /media/usb/amina.vigil
                  fieldcli bundle export --to 5e0f3c2a --out /media/usb/for-omar.vigil
                  fieldcli bundle export --to hub --out /media/usb/for-hub.vigil
                  fieldcli bundle import /media/usb/omar.vigil
                """,
            subcommands: [Export.self, Import.self])
    }
}

extension FieldCLI.BundleCommand {
    /// `fieldcli bundle export`.
    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "export",
            abstract: "Write what another replica lacks (or everything) to a bundle file, readable by its owner only.")

        @OptionGroup var options: ReplicaOptions

        @Option(help: ArgumentHelp("The bundle file to write.", valueName: "path"))
        var out: String

        @Option(help: ArgumentHelp(
            "Only what this replica lacks: the id (or a unique prefix) of a replica whose bundle was imported here, or `hub` for what the hub lacked at the last sync.",
            valueName: "replica"))
        var to: String?

        @Flag(help: "Everything this replica holds.")
        var all = false

        @Flag(inversion: .prefixedNo, help: "Carry the attached files (photos, audio, scans) the versions name and this replica holds (default).")
        var attachments = true

        func validate() throws {
            if (to == nil) == !all { throw ValidationError("Say what the other side lacks: --to REPLICA, --to hub, or --all.") }
        }

        func run() async throws {
            let store = try options.open()
            let knowledge = all ? VersionVector() : try Self.knowledge(of: to ?? "", in: store)
            let now = UInt64(max(0, Date().timeIntervalSince1970 * 1000))
            let bundle = try FieldBundles.export(from: store, lacking: knowledge, now: now, attachments: attachments)
            let data = try BundleFile.encode(bundle)
            do {
                try PrivateFile.write(data, to: out)
            } catch {
                throw StoreError(.readOnly, "Cannot write the bundle to \(out); check that its folder exists and is writable.")
            }
            if options.json {
                try JSONOutput.print([
                    "file": out, "versions": bundle.versions.count, "attachments": bundle.attachmentFiles.count,
                    "bytes": data.count, "exporter": store.replicaID.hex,
                ])
            } else {
                let files = bundle.attachmentFiles.count
                print(
                    "Wrote \(bundle.versions.count) version\(bundle.versions.count == 1 ? "" : "s")\(files == 0 ? "" : " and \(files) attachment\(files == 1 ? "" : "s")") (\(data.count) bytes) to \(out).")
            }
        }

        /// What `target` holds, as this replica knows it: the hub's knowledge at the last sync, or
        /// what the replica's latest bundle imported here said.
        static func knowledge(of target: String, in store: ReplicaStore) throws -> VersionVector {
            if target == "hub" {
                guard let hub = try HubCredentials.savedHub(in: store) else {
                    throw InvalidInput("This replica never synced with a hub; export with --all.")
                }
                return try store.peerState(hub).knowledge
            }
            let matches = try store.bundlePeers().filter { $0.hex.hasPrefix(target.lowercased()) }
            guard matches.count == 1, target.count >= 4, let peer = matches.first else {
                throw InvalidInput(
                    matches.count > 1
                        ? "'\(target.prefix(40))' names more than one replica whose bundles were imported here; give more of its id."
                        : "No bundle from a replica '\(target.prefix(40))' was imported here; export with --all.")
            }
            return try store.bundlePeerKnowledge(of: peer) ?? VersionVector()
        }
    }

    /// `fieldcli bundle import`.
    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "import",
            abstract: "Verify a bundle file like a pull and apply it in one transaction; importing it again changes nothing.")

        @OptionGroup var options: ReplicaOptions

        @Argument(help: ArgumentHelp("The bundle file.", valueName: "path"))
        var file: String

        func run() async throws {
            let bundle = try BundleFile.read(path: file)
            let store = try options.open()
            let now = UInt64(max(0, Date().timeIntervalSince1970 * 1000))
            let report = try await FieldBundles.importBundle(bundle, into: store, now: now)
            if options.json {
                try JSONOutput.print([
                    "exporter": report.exporter.hex, "versions": report.versions, "stored": report.stored,
                    "alreadyHeld": report.alreadyHeld, "heldAside": report.heldAside,
                    "keptApart": report.keptApart.map { ["dot": "\($0.dot)", "reason": $0.reason.rawValue] },
                    "outsideReadScope": report.outsideReadScope, "forks": report.forks.map { "\($0)" },
                    "attachmentsStored": report.attachmentsStored, "attachmentsRefused": report.attachmentsRefused,
                ])
                return
            }
            print(
                "Imported the bundle of replica \(report.exporter.short): \(report.stored) new version\(report.stored == 1 ? "" : "s"), \(report.alreadyHeld) already held.")
            if report.heldAside > 0 {
                print("\(report.heldAside) wait for versions they depend on, which the bundle did not carry.")
            }
            if let first = report.keptApart.first {
                print(
                    "\(report.keptApart.count) failed verification (first \(first.dot): \(first.reason.rawValue)) and are kept apart, never shown.")
            }
            if report.outsideReadScope > 0 { print("\(report.outsideReadScope) lie outside this device's read scope and were not kept.") }
            if report.attachmentsStored > 0 { print("\(report.attachmentsStored) attached file\(report.attachmentsStored == 1 ? "" : "s") stored.") }
            if report.attachmentsRefused > 0 {
                print("\(report.attachmentsRefused) attached file\(report.attachmentsRefused == 1 ? "" : "s") did not match its SHA-256 and was not kept.")
            }
            if !report.forks.isEmpty { print("\(report.forks.count) are held here with another signature (forked) and were not kept.") }
        }
    }
}
