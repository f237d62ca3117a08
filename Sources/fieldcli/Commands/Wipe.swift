import ArgumentParser
import Foundation
import ReplicaStore
import SyncCommandLine

extension FieldCLI {
    struct Wipe: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "wipe",
            abstract: "Destroy the replica at once: its data key first, then every file.",
            discussion: """
                On an encrypted replica the wrapped data key is overwritten first (crypto-shredding): \
                after that nothing of the reports, the device key or the hub credential can be read \
                from the disk by anyone, passphrase or not. Then the replica's files are removed. It \
                takes the same time whatever the replica's size, and needs no passphrase. Versions \
                not yet synced are lost.

                On a replica in clear the files are removed, but their content may stay readable on \
                the disk.

                Examples:
                  fieldcli wipe           # asks once on the terminal
                  fieldcli wipe --now     # no question
                """)

        @OptionGroup var options: ReplicaOptions

        @Flag(help: "Do not ask for confirmation.")
        var now = false

        func run() async throws {
            let path = options.resolvedPath
            if !now {
                guard FileManager.default.fileExists(atPath: path) else {
                    throw StoreError(.replicaMissing, "There is no replica at \(path).")
                }
                guard try Confirmation.ask("Destroy the replica \(path) and everything in it? Type yes: ") == "yes" else {
                    Console.diagnose("Nothing was wiped.")
                    throw ExitCode.usage
                }
            }
            // The key leaves the agent's memory too (its files are about to be destroyed anyway).
            if let keyID = try? ReplicaStore.dataKeyID(at: path) { _ = UnlockAgentClient().lock(keyID: keyID) }
            let report = try ReplicaStore.wipe(at: path)
            if options.json {
                try JSONOutput.print(["path": path, "shreddedDataKey": report.shreddedDataKey, "removed": report.removed])
            } else if report.shreddedDataKey {
                print("Wiped \(path): its data key was destroyed and \(report.removed.count) files removed.")
            } else {
                print("Removed \(path) (\(report.removed.count) files); it was not encrypted, so its content may remain readable on the disk.")
            }
        }
    }
}
