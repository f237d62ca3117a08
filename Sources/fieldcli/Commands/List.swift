import ArgumentParser
import Foundation
import ReplicaStore
import SyncEngine

extension FieldCLI {
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list",
            abstract: "List the documents of a collection, newest first, one page at a time.",
            discussion: """
                When more documents follow, the last line gives the command for the next page \
                (with --json: the `nextCursor` key, null on the last page).

                Examples:
                  fieldcli list reports
                  fieldcli list reports --partition north --limit 20
                  fieldcli list reports --cursor 1717171717171/0190c6a4-7f2b-7c3e-9a51-2d3e4f5a6b7c
                """)

        @OptionGroup var options: ReplicaOptions

        @Argument(help: "The collection.")
        var collection: String

        @Option(help: "Only documents of this partition.")
        var partition: String?

        @Option(help: "How many documents per page (1 to 1000).")
        var limit = 50

        @Option(help: "Continue after a previous page, with the cursor it printed.")
        var cursor: String?

        @Flag(help: "Include deleted documents.")
        var includeDeleted = false

        func validate() throws {
            guard (1...1000).contains(limit) else { throw ValidationError("--limit must be between 1 and 1000.") }
        }

        func run() async throws {
            let collection = try Arguments.collection(collection)
            let page = try options.open().documents(
                in: collection, partition: try partition.map(Arguments.partition), includeDeleted: includeDeleted,
                limit: limit, after: try cursor.map(Arguments.cursor))
            if options.json {
                try JSONOutput.print([
                    "collection": collection.rawValue,
                    "documents": page.documents.map(JSONOutput.document),
                    "nextCursor": page.nextCursor ?? NSNull(),
                ])
                return
            }
            if page.documents.isEmpty { print("No documents in \(collection)\(cursor == nil ? "" : " after this cursor").") }
            for document in page.documents { print(Rendering.listLine(document)) }
            if let next = page.nextCursor {
                var command = "fieldcli list \(collection) --cursor \(next) --limit \(limit)"
                if let partition { command += " --partition \(partition)" }
                if includeDeleted { command += " --include-deleted" }
                print(Console.dim("More: \(command)"))
            }
        }
    }
}
