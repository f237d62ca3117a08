import ArgumentParser
import ReplicaStore
import SyncEngine

extension FieldCLI {
    struct Put: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "put",
            abstract: "Write a document: a new one, or a new version of an existing one.",
            discussion: """
                The body is one JSON object, from --body, from --file (use - for stdin), or from \
                stdin when it is piped. Without an ID a new time-ordered id (UUIDv7) is made. \
                Prints the document id. A document in conflict cannot be edited: resolve it with \
                `fieldcli conflicts resolve` first.

                With --base, the new version is written with what you saw when you read the \
                document (the `context` of `fieldcli get COLLECTION ID --json`): a version that \
                arrived since, from a sync, stays beside yours as a conflict instead of being \
                overwritten. Without --base the new version supersedes everything this replica \
                holds of the document at the moment of writing. `fieldcli edit` reads, edits and \
                writes with the base in one step.

                Examples:
                  fieldcli put reports --body '{"title": "Road blocked", "severity": 2}'
                  fieldcli put reports 0190c6a4-7f2b-7c3e-9a51-2d3e4f5a6b7c --file report.json
                  echo '{"title": "Market fire"}' | fieldcli put reports --partition north
                  id=0190c6a4-7f2b-7c3e-9a51-2d3e4f5a6b7c
                  base=$(fieldcli get reports "$id" --json | jq -c .context)
                  fieldcli put reports "$id" --file report.json --base "$base"
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

        @OptionGroup var base: BaseOption

        func validate() throws {
            if base.base != nil, id == nil { throw ValidationError("--base writes a new version of a document: give its ID.") }
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
            let base = try base.vector()
            let store = try options.open()
            // An observation's informant reference is sealed before the record is signed.
            let sealed = try InformantReferenceSealing.sealed(body, key: key, store: store)
            let version: Version
            do {
                version = try store.write(WriteIntent(key: key, partition: partition, body: sealed, base: base))
            } catch {
                throw BaseOption.advising(error, key: key)
            }
            let conflict = try BaseWriteNote.conflictAfterWrite(version, base: base, store: store, quiet: options.json)
            if options.json {
                try JSONOutput.print([
                    "id": key.id.rawValue, "collection": key.collection.rawValue,
                    "partition": version.partition.rawValue, "dot": version.dot.description, "conflict": conflict,
                ])
            } else {
                print(key.id)
            }
        }
    }
}
