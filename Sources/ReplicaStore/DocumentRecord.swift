import GRDB
import SyncEngine

/// A document's stored state row, loaded and saved inside a transaction.
struct DocumentRecord {
    var key: DocumentKey
    var partition: Partition
    var state: DocumentState

    static func load(_ db: Database, _ key: DocumentKey) throws -> DocumentRecord? {
        let statement = try db.cachedStatement(
            sql: "SELECT partition, siblings, context FROM documents WHERE collection = ? AND document_id = ?")
        guard let row = try Row.fetchOne(statement, arguments: [key.collection.rawValue, key.id.rawValue]) else {
            return nil
        }
        guard let partition = Partition(row[0] as String), let context = VersionVector(compactText: row[2]) else {
            throw StoreError(.notAReplica, "The state of \(key) in the replica is malformed; the file may be damaged.")
        }
        return DocumentRecord(
            key: key, partition: partition,
            state: DocumentState(siblings: try Rows.siblings(row[1]), context: context))
    }

    /// Saves the row. `known` gives tombstone flags and wall times of versions in hand, so that
    /// the common case (one new sibling) needs no lookup.
    func save(_ db: Database, known: [Dot: (isTombstone: Bool, wall: UInt64)]) throws {
        var deleted = true
        var newest: UInt64 = 0
        for dot in state.siblings {
            let facts = try known[dot] ?? Self.facts(db, dot)
            deleted = deleted && facts.isTombstone
            newest = max(newest, facts.wall)
        }
        let statement = try db.cachedStatement(sql: """
            INSERT OR REPLACE INTO documents
                (collection, document_id, partition, siblings, context, sibling_count, deleted, updated_wall)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """)
        try statement.execute(arguments: [
            key.collection.rawValue, key.id.rawValue, partition.rawValue, Rows.siblingsText(state.siblings),
            state.context.compactText, state.siblings.count, deleted, Int64(clamping: newest),
        ])
    }

    private static func facts(_ db: Database, _ dot: Dot) throws -> (isTombstone: Bool, wall: UInt64) {
        let statement = try db.cachedStatement(
            sql: "SELECT body IS NULL, clock_wall FROM versions WHERE origin = ? AND counter = ?")
        guard let row = try Row.fetchOne(statement, arguments: [dot.replica.hex, Int64(dot.counter)]) else {
            throw StoreError(.notAReplica, "A sibling \(dot) has no version row; the replica may be damaged.")
        }
        return (row[0], UInt64(max(0, row[1] as Int64)))
    }
}
