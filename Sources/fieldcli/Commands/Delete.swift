import ArgumentParser
import ReplicaStore
import SyncEngine

extension FieldCLI {
    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete a document: writes a tombstone version, kept in its history.",
            discussion: """
                The deletion syncs like any write. A document in conflict cannot be deleted this \
                way: resolve it with `fieldcli conflicts resolve` (picking the deleted version if \
                that is the outcome).

                Examples:
                  fieldcli delete reports 0190c6a4-7f2b-7c3e-9a51-2d3e4f5a6b7c
                """)

        @OptionGroup var options: ReplicaOptions

        @OptionGroup var target: DocumentArguments

        func run() async throws {
            let key = try target.key()
            let version = try options.open().write(WriteIntent(key: key, body: nil))
            if options.json {
                try JSONOutput.print([
                    "id": key.id.rawValue, "collection": key.collection.rawValue, "dot": version.dot.description,
                    "deleted": true,
                ])
            } else {
                print("Deleted \(key) (version \(Rendering.dot(version.dot))).")
            }
        }
    }
}
