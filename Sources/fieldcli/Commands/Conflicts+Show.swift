import ArgumentParser
import Foundation
import ReplicaStore
import SyncEngine

extension FieldCLI.Conflicts {
    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "show",
            abstract: "Show the conflicting versions of a document side by side, the fields that differ marked.",
            discussion: """
                Fields whose values differ are marked with * (and highlighted on a terminal). Long \
                values are cut; --json gives them whole. Each column is headed by the version's \
                dot, which `conflicts resolve --pick` accepts.

                Examples:
                  fieldcli conflicts show reports 0190c6a4-7f2b-7c3e-9a51-2d3e4f5a6b7c
                  fieldcli conflicts show reports 0190c6a4-7f2b-7c3e-9a51-2d3e4f5a6b7c --json
                """)

        @OptionGroup var options: ReplicaOptions

        @OptionGroup var target: DocumentArguments

        func run() async throws {
            let key = try target.key()
            let document = try options.open().existingDocument(key)
            let comparison = SiblingComparison(document)
            if options.json {
                var object = JSONOutput.document(document)
                object["differingFields"] = comparison.differingFields
                object["fields"] = comparison.jsonFields
                try JSONOutput.print(object)
            } else {
                print(comparison.table(width: Console.columns))
            }
        }
    }
}
