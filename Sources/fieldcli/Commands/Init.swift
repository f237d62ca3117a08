import ArgumentParser
import AtRest
import Foundation
import ReplicaStore

extension FieldCLI {
    struct Init: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "init",
            abstract: "Create a new replica file with a new replica id and device key.",
            discussion: """
                The device's private key is written beside the replica as PATH.key, readable by \
                the owner only; keep both together. An existing file is never overwritten.

                With --encrypt, report bodies, the device key and the hub credential are encrypted \
                under a random data key, kept in PATH.datakey wrapped by a key derived from a \
                passphrase (typed twice on the terminal, or read from --passphrase-file). Every \
                later command asks for the passphrase. There is no way back in without it.

                Examples:
                  fieldcli init
                  fieldcli init --encrypt
                  fieldcli init --db ~/reports/field.sqlite
                  VIGIL_DB=/srv/vigil/replica.sqlite fieldcli init --json
                """)

        @OptionGroup var options: ReplicaOptions

        @Flag(help: "Encrypt the replica at rest under a passphrase (see Docs/Security.md).")
        var encrypt = false

        /// The environment variable that sets scrypt's cost (log2 of N) for a new encrypted
        /// replica; the default costs about a second.
        static let costEnvironmentKey = "VIGIL_SCRYPT_LOGN"

        /// scrypt's log2(N) from `VIGIL_SCRYPT_LOGN`, if set.
        static func costFromEnvironment() throws -> Int? {
            guard let text = ProcessInfo.processInfo.environment[costEnvironmentKey], !text.isEmpty else { return nil }
            guard let logN = Int(text), (10...21).contains(logN) else {
                throw ValidationError("\(costEnvironmentKey) takes a whole number from 10 to 21.")
            }
            return logN
        }

        func run() async throws {
            var storeOptions = ReplicaStore.Options()
            if let logN = try Self.costFromEnvironment() { storeOptions.keyDerivation.logN = logN }
            let passphrase = encrypt ? try options.passphrases.choose() : nil
            let store = try ReplicaStore.create(at: options.resolvedPath, encryptingWith: passphrase, options: storeOptions)
            let keyFile = store.path + ".key"
            let dataKeyFile = encrypt ? ReplicaStore.dataKeyPath(forReplicaAt: store.path) : nil
            if options.json {
                var fields: [String: Any] = [
                    "path": store.path, "replicaID": store.replicaID.hex, "keyFile": keyFile,
                    "publicKey": store.publicKey.base64, "encrypted": encrypt,
                ]
                if let dataKeyFile { fields["dataKeyFile"] = dataKeyFile }
                try JSONOutput.print(fields)
            } else {
                print("Created replica \(store.replicaID.hex)\(encrypt ? " (encrypted)" : "")")
                print("  file      \(store.path)")
                print("  key file  \(keyFile) (keep it private, and with the replica)")
                if let dataKeyFile { print("  data key  \(dataKeyFile) (without it and the passphrase, nothing can be read)") }
            }
        }
    }
}
