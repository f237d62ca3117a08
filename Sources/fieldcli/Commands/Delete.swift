import ArgumentParser
import ReplicaStore
import SyncEngine

extension FieldCLI {
    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "delete",
            abstract: "Delete a document: writes a tombstone version, kept in its history.",
            discussion: """
                The deletion syncs like any write. A document in conflict cannot be deleted this \
                way: resolve it with `fieldcli conflicts resolve` (picking the deleted version if \
                that is the outcome). With --base (the `context` of `fieldcli get COLLECTION ID \
                --json` when you read it), a version that arrived since stays beside the deletion \
                as a conflict instead of being deleted unseen.

                Examples:
                  fieldcli delete reports 0190c6a4-7f2b-7c3e-9a51-2d3e4f5a6b7c
                """)

        @OptionGroup var options: ReplicaOptions

        @OptionGroup var target: DocumentArguments

        @OptionGroup var base: BaseOption

        func run() async throws {
            let key = try target.key()
            let base = try base.vector()
            let store = try options.open()
            let version: Version
            do {
                version = try store.write(WriteIntent(key: key, body: nil, base: base))
            } catch {
                throw BaseOption.advising(error, key: key)
            }
            let conflict = try BaseWriteNote.conflictAfterWrite(version, base: base, store: store, quiet: options.json)
            if options.json {
                try JSONOutput.print([
                    "id": key.id.rawValue, "collection": key.collection.rawValue, "dot": version.dot.description,
                    "deleted": true, "conflict": conflict,
                ])
            } else {
                print("Deleted \(key) (version \(Rendering.dot(version.dot))).")
            }
        }
    }
}
