import ArgumentParser
import Foundation
import ReplicaStore
import SyncClient
import SyncEngine

extension FieldCLI {
    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "status",
            abstract: "Show the replica at a glance: id, counter, knowledge, documents, conflicts, sync state.",
            discussion: """
                Examples:
                  fieldcli status
                  fieldcli status --json | jq .conflicts
                """)

        @OptionGroup var options: ReplicaOptions

        func run() async throws {
            let store = try options.open()
            var report = StatusReport()
            report.addReplica(store, try store.status())
            report.addSync(try SyncStatus.load(store: store))
            report.addAttachments(try store.attachmentBacklog())
            report.addInformantKey(try store.informantKey(), enrolled: !(try store.trustedHubs().isEmpty))
            try report.print(json: options.json)
        }
    }
}
