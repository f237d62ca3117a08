public import SyncEngine
import GRDB

extension ApplyContext {
    /// Forgets, in the apply transaction, every document outside `readScope`: its versions and its
    /// state go (the hub no longer lets this replica hold it). A document holding a version of
    /// `origin` above `acknowledged` (written here and not yet taken by the hub) stays until it is:
    /// nothing unsent is lost. Returns how many documents were forgotten.
    ///
    /// The knowledge table keeps its counters: they bound what this replica has seen, and a later
    /// wider scope delivers the forgotten versions again (a version not held is stored again).
    public func forget(outside readScope: Scope, keepingVersionsOf origin: ReplicaID, above acknowledged: UInt64) throws -> Int {
        let groups = try Row.fetchAll(db, sql: "SELECT DISTINCT collection, partition FROM versions")
        var forgotten = 0
        for group in groups {
            guard let collection = CollectionName(group[0] as String), let partition = Partition(group[1] as String),
                !readScope.allows(collection: collection, partition: partition)
            else { continue }
            let arguments: StatementArguments = [
                collection.rawValue, partition.rawValue, origin.hex, Int64(min(acknowledged, Dot.maxCounter)),
            ]
            // The documents of this group that hold versions the hub has not taken yet.
            let keep = """
                SELECT document_id FROM versions
                WHERE collection = ?1 AND partition = ?2 AND origin = ?3 AND counter > ?4
                """
            forgotten += try Int.fetchOne(
                db,
                sql: """
                    SELECT count(DISTINCT document_id) FROM versions
                    WHERE collection = ?1 AND partition = ?2 AND document_id NOT IN (\(keep))
                    """,
                arguments: arguments) ?? 0
            try db.execute(
                sql: "DELETE FROM documents WHERE collection = ?1 AND partition = ?2 AND document_id NOT IN (\(keep))",
                arguments: arguments)
            try db.execute(
                sql: "DELETE FROM versions WHERE collection = ?1 AND partition = ?2 AND document_id NOT IN (\(keep))",
                arguments: arguments)
        }
        return forgotten
    }
}
