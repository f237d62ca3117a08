import ArgumentParser
import Foundation
import ReplicaStore
import SyncCommandLine

extension FieldCLI {
    struct ChangePassphrase: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "passphrase",
            abstract: "Change an encrypted replica's passphrase, or raise the cost of guessing it.",
            discussion: """
                Asks for the current passphrase (or reads --passphrase-file), then for the new one \
                twice (or reads --new-passphrase-file), and wraps the replica's data key again \
                under it, with the cost VIGIL_SCRYPT_LOGN sets (default 18) and a new salt. Only \
                the PATH.datakey file changes; the old one is overwritten. A duress passphrase \
                (`fieldcli duress set`) is forgotten: set it again afterwards.

                Examples:
                  fieldcli passphrase
                  VIGIL_SCRYPT_LOGN=19 fieldcli passphrase    # the same passphrase, twice as costly to guess
                """)

        @OptionGroup var options: ReplicaOptions

        @Option(
            name: .customLong("new-passphrase-file"),
            help: ArgumentHelp("Read the new passphrase from the first line of this file (mode 0600) instead of the terminal.", valueName: "path"))
        var newPassphraseFile: String?

        func run() async throws {
            let path = options.resolvedPath
            var storeOptions = ReplicaStore.Options()
            let current = try options.passphrases.unlock(replicaPath: path)
            storeOptions.passphrase = { current }
            if let logN = try Init.costFromEnvironment() { storeOptions.keyDerivation.logN = logN }
            let new = try PassphraseReader(file: newPassphraseFile, environment: [:]).choose()
            try ReplicaStore.changePassphrase(at: path, to: new, options: storeOptions)
            if options.json {
                try JSONOutput.print(["path": path, "changed": true, "logN": storeOptions.keyDerivation.logN])
            } else {
                print("Changed the passphrase of \(path). A duress passphrase, if one was set, is forgotten: set it again with `fieldcli duress set`.")
            }
        }
    }
}
