/// Input from the command line that cannot be used: an unreadable body file, a bad cursor or dot.
///
/// Ends the command with ``ArgumentParser/ExitCode/invalidInput`` and its one-sentence message.
struct InvalidInput: Error, Sendable, CustomStringConvertible {
    let message: String

    init(_ message: String) { self.message = message }

    var description: String { message }
}
