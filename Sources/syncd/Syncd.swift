import ArgumentParser

/// `syncd`: the hub (`serve`) and the field replica's sync daemon (`run`).
@main
struct Syncd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "syncd",
        abstract: "Vigil's sync daemon: serve a hub, or keep a field replica in sync with one.",
        subcommands: [Serve.self, Run.self, Devices.self, Operators.self, Audit.self, BundleCommand.self, InformantKey.self, InformantRefs.self, CopyToPostgres.self])
}
