import ArgumentParser
import Foundation
import ReplicaStore
import SyncEngine

extension FieldCLI {
    struct History: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "history",
            abstract: "Show every version of a document, oldest first, with who wrote it and whether its signature holds.",
            discussion: """
                For each version: its dot (replica:counter), author replica, time, causal context \
                (what the writer had seen), signature (valid, invalid, or unknown-key when this \
                replica does not have the author's key yet), and why it was set aside if the \
                network rejected it.

                Examples:
                  fieldcli history reports 0190c6a4-7f2b-7c3e-9a51-2d3e4f5a6b7c
                  fieldcli history reports 0190c6a4-7f2b-7c3e-9a51-2d3e4f5a6b7c --json
                """)

        @OptionGroup var options: ReplicaOptions

        @OptionGroup var target: DocumentArguments

        func run() async throws {
            let key = try target.key()
            let store = try options.open()
            let history = try store.history(of: key)
            let keptApart = try store.unverifiedVersions(of: key)
            guard !history.isEmpty || !keptApart.isEmpty else { _ = try store.existingDocument(key); return }
            let entries = Array(zip(history, try store.signatureStatuses(of: history.map(\.version))))
            if options.json {
                try JSONOutput.print([
                    "collection": key.collection.rawValue, "id": key.id.rawValue,
                    "versions": entries.map { stored, signature in
                        var object = JSONOutput.version(stored.version)
                        object["signature"] = stored.bodyDropped ? "not-checked" : signature.rawValue
                        if stored.bodyDropped {
                            object["deleted"] = false
                            object["bodyKept"] = false
                        }
                        object["setAsideReason"] = stored.setAsideReason?.detail ?? NSNull()
                        object["setAsideCode"] = stored.setAsideReason?.code.rawValue ?? NSNull()
                        object["receivedFrom"] = stored.receivedFrom?.hex ?? NSNull()
                        return object
                    },
                    "keptApart": keptApart.map { kept in
                        var object = JSONOutput.version(kept.version)
                        object["reason"] = kept.reason.rawValue
                        return object
                    },
                ])
            } else {
                print("\(key): \(history.count) version\(history.count == 1 ? "" : "s")")
                for (stored, signature) in entries { print(Rendering.historyEntry(stored, signature: signature)) }
                for kept in keptApart {
                    print(Console.highlight("\(kept.version.dot)  kept apart, never shown: it failed verification (\(kept.reason.rawValue))"))
                }
            }
        }
    }
}
