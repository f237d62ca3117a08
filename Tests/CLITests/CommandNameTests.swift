import ArgumentParser
import Testing

@testable import fieldcli

/// Issue 14, start-up: `fieldcli put` spent about a fifth of its CPU deriving command names. A
/// command whose configuration gives no `commandName` is named by ArgumentParser with
/// `String(describing:)` of its type, a dynamic cast that scans every protocol conformance record
/// of the process (about 10,000) once per command, and every command of the tree is named at
/// every start, whichever runs.
@Suite("fieldcli command names")
struct CommandNameTests {
    /// Replays the start-up profile of issue 14: every command of the tree names itself.
    @Test func everyCommandGivesItsName() {
        var unnamed: [String] = []
        func visit(_ command: any ParsableCommand.Type) {
            if command.configuration.commandName == nil { unnamed.append("\(command)") }
            command.configuration.subcommands.forEach(visit)
        }
        visit(FieldCLI.self)
        #expect(unnamed.isEmpty, "give these commands a commandName: \(unnamed)")
    }
}
