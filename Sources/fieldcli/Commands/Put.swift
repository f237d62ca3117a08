import ArgumentParser
import ReplicaStore
import SyncEngine

extension FieldCLI {
    struct Put: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a document: a new one, or a new version of an existing one.",
            discussion: """
                The body is one JSON object, from --body, from --file (use - for stdin), or from \
                stdin when it is piped. Without an ID a new time-ordered id (UUIDv7) is made. \
                Prints the document id. A document in conflict cannot be edited: resolve it with \
                `fieldcli conflicts resolve` first.

                Examples:
                  fieldcli put reports --body '{"title": "Road blocked", "severity": 2}'
                  fieldcli put reports 0190c6a4-7f2b-7c3e-9a51-2d3e4f5a6b7c --file report.json
                  echo '{"title": "Market fire"}' | fieldcli put reports --partition north
                """)

        @OptionGroup var options: ReplicaOptions

        @Argument(help: "The collection, such as `reports`.")
        var collection: String

        @Argument(help: "The document id; a new one is made when left out.")
        var id: String?

        @Option(help: ArgumentHelp("The body as JSON text.", valueName: "json"))
        var body: String?

        @Option(help: ArgumentHelp("A file holding the JSON body; - reads stdin.", valueName: "path"))
        var file: String?

        @Option(help: "The partition (region) of a new document; default `default`. It never changes afterwards.")
        var partition: String?

        func validate() throws {
            if body != nil, file != nil { throw ValidationError("Give the body with --body or with --file, not both.") }
            if !BodyInput(body: body, file: file).isGiven {
                throw ValidationError("Give the body with --body JSON, --file PATH, or on stdin.")
            }
        }

        func run() async throws {
            let key = DocumentKey(
                collection: try Arguments.collection(collection),
                id: try id.map(Arguments.documentID) ?? DocumentID.generate())
            let partition = try partition.map(Arguments.partition)
            let body = try BodyInput(body: body, file: file).read()
            let version = try options.open().write(WriteIntent(key: key, partition: partition, body: body))
            if options.json {
                try JSONOutput.print([
                    "id": key.id.rawValue, "collection": key.collection.rawValue,
                    "partition": version.partition.rawValue, "dot": version.dot.description,
                ])
            } else {
                print(key.id)
            }
        }
    }
}
