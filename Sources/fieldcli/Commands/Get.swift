import ArgumentParser
import ReplicaStore
import SyncEngine

extension FieldCLI {
    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "get",
            abstract: "Show a document; every conflicting version when it is in conflict.",
            discussion: """
                Each version shows its dot (replica:counter), author, time and body. The last \
                line, `base`, is what you saw: give it (or the `context` of --json) to `put`, \
                `delete` or `record --id` as --base, so that a version that arrives before you \
                write stays beside yours as a conflict instead of being overwritten.

                Examples:
                  fieldcli get reports 0190c6a4-7f2b-7c3e-9a51-2d3e4f5a6b7c
                  fieldcli get reports 0190c6a4-7f2b-7c3e-9a51-2d3e4f5a6b7c --json
                """)

        @OptionGroup var options: ReplicaOptions

        @OptionGroup var target: DocumentArguments

        func run() async throws {
            let key = try target.key()
            let document = try options.open().documentWithBody(key)
            if options.json {
                try JSONOutput.print(JSONOutput.document(document))
            } else {
                print(Rendering.document(document))
                print("\nbase  \(document.state.context.compactText)")
            }
        }
    }
}
