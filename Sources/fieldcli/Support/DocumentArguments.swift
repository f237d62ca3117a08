import ArgumentParser
import Foundation
import ReplicaStore
import SyncEngine

/// The `COLLECTION ID` pair that names one document, shared by the commands that act on one.
struct DocumentArguments: ParsableArguments {
    @Argument(help: "The collection.")
    var collection: String

    @Argument(help: "The document id.")
    var id: String

    /// The document's key; an invalid collection name or id is invalid input (exit 65).
    func key() throws -> DocumentKey { try Arguments.key(collection, id) }
}

/// `--base CONTEXT`: what the writer saw of the document, so that a version written since stays
/// beside the new one (a conflict) instead of being superseded.
///
/// CONTEXT is the `context` object `fieldcli get COLLECTION ID --json` prints,
/// `{"<replica id>": <counter>, …}` (`{}` for a writer that saw nothing), or the same vector as
/// compact text, `<replica id>=<counter>,…`.
struct BaseOption: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Write with what you saw: the `context` that `get --json` printed when you read the document.",
            valueName: "context"))
    var base: String?

    /// The longest base accepted: the longest single argument Linux passes to a program.
    static let maximumLength = 128 * 1024

    /// The base as a version vector; nil when none was given; invalid input when malformed.
    func vector() throws -> VersionVector? {
        guard let base else { return nil }
        return try Self.parse(base)
    }

    static func parse(_ text: String) throws -> VersionVector {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard trimmed.utf8.count <= maximumLength else {
            throw InvalidInput("The base is longer than \(maximumLength / 1024) KiB; give the `context` that `fieldcli get --json` printed.")
        }
        if trimmed.hasPrefix("{"), let vector = try? JSONDecoder().decode(VersionVector.self, from: Data(trimmed.utf8)) {
            return vector
        }
        if !trimmed.isEmpty, !trimmed.hasPrefix("{"), let vector = VersionVector(compactText: trimmed) {
            return vector
        }
        throw InvalidInput(
            "'\(trimmed.prefix(60))' is not a base: give the `context` object `fieldcli get COLLECTION ID --json` printed, such as {\"<replica id>\": 3}, or REPLICA=COUNTER pairs joined by commas.")
    }

    /// `error` worded for the command line when it is about the base; unchanged otherwise.
    static func advising(_ error: any Error, key: DocumentKey) -> any Error {
        guard let error = error as? SyncEngineError, error.code == .baseNotHeld else { return error }
        return InvalidInput(
            "\(error.message.dropLast(error.message.hasSuffix(".") ? 1 : 0)); read it again with `fieldcli get \(key.collection) \(key.id) --json` and give its context as --base.")
    }
}

/// After a write with a base: whether the document is now in conflict because a version the
/// writer did not see stays beside the new one, said on stderr so that stdout keeps the output.
enum BaseWriteNote {
    /// Whether `key` is in conflict after `version` was written with a base; notes it on stderr
    /// unless `quiet` (JSON output carries it as a field instead).
    static func conflictAfterWrite(_ version: Version, base: VersionVector?, store: ReplicaStore, quiet: Bool) throws -> Bool {
        guard base != nil, let document = try store.document(version.key), document.isConflicted else { return false }
        if !quiet {
            Console.diagnose(
                "\(version.key) changed after you read it; your version stands beside \(document.siblings.count - 1 == 1 ? "that change" : "those changes") as a conflict (`fieldcli conflicts show \(version.key.collection) \(version.key.id)`).")
        }
        return true
    }
}
