import ArgumentParser
import ReplicaStore
import SyncCommandLine

/// The flags every command shares: which replica, and whether to print JSON.
struct ReplicaOptions: ParsableArguments {
    @Option(
        name: .customLong("db"),
        help: ArgumentHelp(
            "The replica file (default: $VIGIL_DB, else $XDG_DATA_HOME/vigil/replica.sqlite, else ~/.local/share/vigil/replica.sqlite).",
            valueName: "path"))
    var path: String?

    @Flag(help: "Print one JSON document on stdout, for scripts, instead of text for people.")
    var json = false

    @Option(
        name: .customLong("passphrase-file"),
        help: ArgumentHelp(
            "For an encrypted replica: read its passphrase from the first line of this file (mode 0600) instead of the terminal (default: $VIGIL_PASSPHRASE_FILE).",
            valueName: "path"))
    var passphraseFile: String?

    /// Where an encrypted replica's passphrase comes from.
    var passphrases: PassphraseReader { PassphraseReader(file: passphraseFile) }

    /// The replica file this command works on.
    var resolvedPath: String { path ?? ReplicaStore.defaultPath() }

    /// Opens the replica; fails with a sentence when there is none or it is not a replica.
    /// An encrypted replica takes its key from its unlock agent, else asks for its passphrase
    /// (terminal or passphrase file).
    func open() throws -> ReplicaStore {
        var options = ReplicaStore.Options()
        let (passphrases, path) = (self.passphrases, resolvedPath)
        options.passphrase = { try passphrases.unlock(replicaPath: path) }
        options.unlockedKey = { UnlockAgentClient().key(for: $0) }
        return try ReplicaStore.open(at: path, options: options)
    }
}
