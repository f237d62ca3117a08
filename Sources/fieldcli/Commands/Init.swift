import ArgumentParser
import ReplicaStore

extension FieldCLI {
    struct Init: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a new replica file with a new replica id and device key.",
            discussion: """
                The device's private key is written beside the replica as PATH.key, readable by \
                the owner only; keep both together. An existing file is never overwritten.

                Examples:
                  fieldcli init
                  fieldcli init --db ~/reports/field.sqlite
                  VIGIL_DB=/srv/vigil/replica.sqlite fieldcli init --json
                """)

        @OptionGroup var options: ReplicaOptions

        func run() async throws {
            let store = try ReplicaStore.create(at: options.resolvedPath)
            let keyFile = store.path + ".key"
            if options.json {
                try JSONOutput.print([
                    "path": store.path, "replicaID": store.replicaID.hex, "keyFile": keyFile,
                    "publicKey": store.publicKey.base64,
                ])
            } else {
                print("Created replica \(store.replicaID.hex)")
                print("  file      \(store.path)")
                print("  key file  \(keyFile) (keep it private, and with the replica)")
            }
        }
    }
}
