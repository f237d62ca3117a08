import ArgumentParser
import Foundation
import ReplicaStore

extension FieldCLI {
    struct Encrypt: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "encrypt",
            abstract: "Encrypt an existing replica under a passphrase.",
            discussion: """
                Seals every report body, the device key and the hub credential under a new data key \
                wrapped by a key derived from the passphrase (typed twice, or read from \
                --passphrase-file), as `fieldcli init --encrypt` does for a new replica. Stop \
                `syncd run` first. Interrupted, run it again with the same passphrase.

                The cleartext inside the replica's files is overwritten, but the disk may still hold \
                older copies the file system let go of (an earlier WAL, replaced files): a replica \
                that must be safe from its first report is best created with `fieldcli init --encrypt`.

                Example:
                  fieldcli encrypt
                """)

        @OptionGroup var options: ReplicaOptions

        func run() async throws {
            let path = options.resolvedPath
            let resuming = ReplicaStore.isEncrypted(at: path)
            let passphrase = resuming
                ? try options.passphrases.unlock(replicaPath: path) : try options.passphrases.choose()
            var storeOptions = ReplicaStore.Options()
            if let logN = try Init.costFromEnvironment() { storeOptions.keyDerivation.logN = logN }
            try ReplicaStore.encrypt(at: path, passphrase: passphrase, options: storeOptions)
            if options.json {
                try JSONOutput.print(["path": path, "encrypted": true, "dataKeyFile": ReplicaStore.dataKeyPath(forReplicaAt: path)])
            } else {
                print("Encrypted \(path); every command now asks for its passphrase.")
                print("  data key  \(ReplicaStore.dataKeyPath(forReplicaAt: path)) (without it and the passphrase, nothing can be read)")
            }
        }
    }
}
