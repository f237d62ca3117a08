import ArgumentParser
import Foundation
import ReplicaStore
import SyncEngine

extension FieldCLI.Conflicts {
    struct Resolve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "resolve",
            abstract: "Resolve a conflict: keep one version, or write merged JSON, with a reason.",
            discussion: """
                Writes one new version whose context covers every conflicting version, so it \
                supersedes them all on every replica it reaches; they stay in the history. The \
                new body records the reason and the resolved versions under the reserved field \
                `_resolution`: {"reason": TEXT, "siblings": [DOT, ...]}. Picking a deleted \
                version deletes the document (a tombstone cannot carry the reason).

                Examples:
                  fieldcli conflicts resolve reports 0190c6a4-7f2b-7c3e-9a51-2d3e4f5a6b7c \\
                    --pick 3f9a12c4:7 --reason "The observer's later call confirmed this one"
                  fieldcli conflicts resolve reports 0190c6a4-7f2b-7c3e-9a51-2d3e4f5a6b7c \\
                    --file merged.json --reason "Kept both casualty counts' sources"
                """)

        @OptionGroup var options: ReplicaOptions

        @OptionGroup var target: DocumentArguments

        @Option(help: ArgumentHelp(
            "Keep this version's body: its dot as `conflicts show` prints it (REPLICA:COUNTER).", valueName: "version"))
        var pick: String?

        @Option(help: ArgumentHelp("The merged body as JSON text.", valueName: "json"))
        var body: String?

        @Option(help: ArgumentHelp("A file holding the merged JSON body; - reads stdin.", valueName: "path"))
        var file: String?

        @Option(help: "Why the conflict is resolved this way (required; kept in the new version).")
        var reason: String

        func validate() throws {
            guard [pick, body, file].compactMap({ $0 }).count == 1 else {
                throw ValidationError("Give exactly one of --pick VERSION, --body JSON or --file PATH.")
            }
            guard !reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, reason.count <= 1000 else {
                throw ValidationError("--reason must say why, in 1 to 1000 characters.")
            }
        }

        func run() async throws {
            let key = try target.key()
            let store = try options.open()
            let document = try store.existingDocument(key)
            guard document.isConflicted else {
                throw SyncEngineError(.conflict, "\(key) is not in conflict; there is nothing to resolve.")
            }
            let chosen = try pick.map { pick throws -> Data? in
                let sibling = try Arguments.sibling(pick, among: document.siblings, of: key)
                try ReplicaStore.requireKept(document, of: sibling.dot)
                return sibling.body
            }
                ?? BodyInput(body: body, file: file).read()
            let dots = document.siblings.map(\.dot)
            let resolved = try chosen.map { chosen in
                // An informant reference in clear (given, or kept by an older device) is sealed first.
                let sealed = try InformantReferenceSealing.sealed(chosen, key: key, store: store)
                return try JSONBody.annotatingResolution(sealed, reason: reason, siblings: dots)
            }
            let version = try store.write(WriteIntent(key: key, body: resolved, isResolution: true, expectedSiblings: dots))
            if options.json {
                try JSONOutput.print([
                    "collection": key.collection.rawValue, "id": key.id.rawValue, "dot": version.dot.description,
                    "resolved": dots.sorted().map(\.description), "deleted": version.isTombstone,
                ])
            } else {
                print("Resolved \(key): version \(Rendering.dot(version.dot)) supersedes \(dots.sorted().map(Rendering.dot).joined(separator: ", ")).")
            }
        }
    }
}
