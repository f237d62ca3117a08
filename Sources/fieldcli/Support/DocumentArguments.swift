import ArgumentParser
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
