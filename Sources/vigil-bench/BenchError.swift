/// Why a benchmark could not run or produced no trustworthy figure.
struct BenchError: Error, Sendable, CustomStringConvertible {
    enum Code: Sendable, Hashable {
        /// A tool the benchmark runs (fieldcli, sqlite3) is missing or failed.
        case tool
        /// Setting up the data a figure needs failed.
        case setup
        /// The measured operation did not do what it should (wrong counts).
        case verification
        /// Writing the results failed.
        case output
    }

    let code: Code
    let description: String

    init(_ code: Code, _ description: String) {
        self.code = code
        self.description = description
    }
}
