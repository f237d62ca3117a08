import ArgumentParser
import ReplicaStore

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

    /// The replica file this command works on.
    var resolvedPath: String { path ?? ReplicaStore.defaultPath() }

    /// Opens the replica; fails with a sentence when there is none or it is not a replica.
    func open() throws -> ReplicaStore {
        try ReplicaStore.open(at: resolvedPath)
    }
}
