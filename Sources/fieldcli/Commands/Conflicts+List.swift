import ArgumentParser
import ReplicaStore
import SyncEngine

extension FieldCLI.Conflicts {
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list",
            abstract: "List the documents in conflict and the fields their versions disagree on.",
            discussion: """
                Examples:
                  fieldcli conflicts list
                  fieldcli conflicts list --json
                """)

        @OptionGroup var options: ReplicaOptions

        func run() async throws {
            let conflicts = try options.open().conflicts()
            if options.json {
                try JSONOutput.print([
                    "conflicts": conflicts.map { document in
                        [
                            "collection": document.key.collection.rawValue, "id": document.key.id.rawValue,
                            "partition": document.partition.rawValue,
                            "siblings": document.siblings.map(\.dot.description),
                            "differingFields": JSONBody.differingFields(among: document.siblings.map(\.body)),
                        ] as [String: Any]
                    },
                ])
                return
            }
            if conflicts.isEmpty { print("No conflicts.") }
            for document in conflicts {
                let fields = JSONBody.differingFields(among: document.siblings.map(\.body))
                print("\(document.key)  \(document.siblings.count) versions  differ in: \(fields.isEmpty ? "(deletion)" : fields.joined(separator: ", "))")
            }
        }
    }
}
