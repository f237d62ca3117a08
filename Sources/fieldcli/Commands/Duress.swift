import ArgumentParser
import AtRest
import Foundation
import ReplicaStore
import SyncCommandLine

extension FieldCLI {
    struct Duress: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "duress",
            abstract: "Register a duress passphrase for an encrypted replica.",
            subcommands: [SetPassphrase.self])

        struct SetPassphrase: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "set",
                abstract: "Register a second passphrase that silently destroys the replica when typed.",
                discussion: """
                    Opens the replica (with its unlock agent, its passphrase file or the terminal), \
                    then asks for the duress passphrase twice (or reads --duress-passphrase-file) \
                    and registers it, replacing any earlier one. Typed later wherever a passphrase \
                    is asked, it destroys the replica as `fieldcli wipe` does, without a word, and \
                    opens an empty replica that works as usual under the duress passphrase. \
                    Changing the passphrase (`fieldcli passphrase`) forgets the duress passphrase: \
                    set it again afterwards. The files do not show whether one is set.

                    Examples:
                      fieldcli duress set
                      fieldcli duress set --duress-passphrase-file /run/user/1000/duress
                    """)

            @OptionGroup var options: ReplicaOptions

            @Option(
                name: .customLong("duress-passphrase-file"),
                help: ArgumentHelp("Read the duress passphrase from the first line of this file (mode 0600) instead of the terminal.", valueName: "path"))
            var duressPassphraseFile: String?

            func run() async throws {
                let store = try options.open()
                guard store.isEncrypted else {
                    Console.diagnose("\(store.path) is not encrypted; encrypt it first with `fieldcli encrypt`.")
                    throw ExitCode.usage
                }
                let duress = try PassphraseReader(file: duressPassphraseFile, environment: [:]).choose()
                do {
                    try ReplicaStore.setDuress(at: store.path, duress: duress)
                } catch let error as AtRestError where error.code == .duressIsPassphrase {
                    Console.diagnose("The duress passphrase must differ from the replica's passphrase; nothing was changed.")
                    throw ExitCode.usage
                }
                if options.json {
                    try JSONOutput.print(["path": store.path, "duress": true])
                } else {
                    print("Registered a duress passphrase for \(store.path).")
                }
            }
        }
    }
}
