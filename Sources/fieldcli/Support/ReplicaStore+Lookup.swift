import ReplicaStore
import SyncEngine

extension ReplicaStore {
    /// The document, or a "not found" failure that says how to list the ids there are.
    func existingDocument(_ key: DocumentKey) throws -> StoredDocument {
        guard let document = try document(key) else {
            throw StoreError(
                .documentNotFound,
                "There is no document \(key) in this replica; `fieldcli list \(key.collection)` shows the ids there are.")
        }
        return document
    }

    /// The document, refused when a body it would show or build on was sent and not kept here
    /// (delete after receipt): of `dot` when given, else of any sibling.
    func documentWithBody(_ key: DocumentKey, of dot: Dot? = nil) throws -> StoredDocument {
        let document = try existingDocument(key)
        try Self.requireKept(document, of: dot)
        return document
    }

    static func requireKept(_ document: StoredDocument, of dot: Dot? = nil) throws {
        let missing = dot.map { document.droppedBodies.contains($0) } ?? document.isNotKeptHere
        guard missing else { return }
        throw StoreError(
            .bodyNotKept,
            "The body of \(document.key) was sent to the hub and not kept here (`fieldcli config get keep` shows the setting); its history and status still show it.")
    }
}
