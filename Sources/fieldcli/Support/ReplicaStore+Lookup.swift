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
}
