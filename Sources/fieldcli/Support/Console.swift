import Foundation

/// The terminal `fieldcli` writes to: diagnostics on stderr, and styles only when stdout is a
/// terminal that wants them (not when `NO_COLOR` is set or `TERM` is `dumb`).
enum Console {
    /// Writes `fieldcli: <message>` and a newline on stderr.
    static func diagnose(_ message: String) {
        FileHandle.standardError.write(Data("fieldcli: \(message)\n".utf8))
    }

    /// Whether stdout is a terminal that accepts ANSI styles.
    static let isStyled: Bool = {
        let environment = ProcessInfo.processInfo.environment
        return isatty(STDOUT_FILENO) == 1 && environment["NO_COLOR"] == nil && environment["TERM"] != "dumb"
    }()

    /// The width of the terminal, or 100 when stdout is not one.
    static var columns: Int {
        var size = winsize()
        if isatty(STDOUT_FILENO) == 1, ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 {
            return Int(size.ws_col)
        }
        if let text = ProcessInfo.processInfo.environment["COLUMNS"], let columns = Int(text), columns > 20 {
            return columns
        }
        return 100
    }

    /// `text` in bold yellow on a styled terminal, unchanged otherwise.
    static func highlight(_ text: String) -> String {
        isStyled ? "\u{1B}[1;33m\(text)\u{1B}[0m" : text
    }

    /// `text` dimmed on a styled terminal, unchanged otherwise.
    static func dim(_ text: String) -> String {
        isStyled ? "\u{1B}[2m\(text)\u{1B}[0m" : text
    }
}
