package import GRDB
package import SyncEngine

/// A document's stored state row, loaded and saved inside a transaction.
package struct DocumentRecord {
    package var key: DocumentKey
    package var partition: Partition
    package var state: DocumentState
    /// Whether a row exists for it, so that saving updates rather than inserts.
    package var isStored: Bool

    /// A document nothing is known of yet.
    package init(key: DocumentKey, partition: Partition) {
        self.init(key: key, partition: partition, state: DocumentState(), isStored: false)
    }

    package init(key: DocumentKey, partition: Partition, state: DocumentState, isStored: Bool) {
        self.key = key
        self.partition = partition
        self.state = state
        self.isStored = isStored
    }

    /// Merges a received `version` into the state; where the state's joined vector claims its dot,
    /// the contexts of the versions held decide (see ``DocumentState/merge(_:isNamed:)``).
    package mutating func merge(_ db: Database, _ version: Version) throws -> DocumentState.MergeOutcome {
        let key = self.key
        return try state.merge(version) { dot in try Self.isNamed(db, dot, byAVersionOf: key) }
    }

    /// Whether a version of `key` in good standing here names `dot` in its context.
    package static func isNamed(_ db: Database, _ dot: Dot, byAVersionOf key: DocumentKey) throws -> Bool {
        let statement = try db.cachedStatement(
            sql: "SELECT context FROM versions WHERE collection = ? AND document_id = ? AND set_aside_reason IS NULL")
        let contexts = try String.fetchCursor(statement, arguments: [key.collection.rawValue, key.id.rawValue])
        while let text = try contexts.next() {
            if VersionVector(compactText: text)?.contains(dot) == true { return true }
        }
        return false
    }

    package static func load(_ db: Database, _ key: DocumentKey) throws -> DocumentRecord? {
        let statement = try db.cachedStatement(
            sql: "SELECT document_id, partition, siblings, context FROM documents WHERE collection = ? AND document_id = ?")
        guard let row = try Row.fetchOne(statement, arguments: [key.collection.rawValue, key.id.rawValue]) else {
            return nil
        }
        return try decode(row, collection: key.collection)
    }

    /// The stored records of `keys`, read a few hundred at a time.
    package static func loadAll(_ db: Database, _ keys: Set<DocumentKey>) throws -> [DocumentKey: DocumentRecord] {
        var records: [DocumentKey: DocumentRecord] = [:]
        records.reserveCapacity(keys.count)
        for (collection, members) in Dictionary(grouping: keys, by: \.collection) {
            let ids = members.map(\.id.rawValue)
            for start in stride(from: 0, to: ids.count, by: 500) {
                let chunk = Array(ids[start..<min(start + 500, ids.count)])
                let placeholders = Array(repeating: "?", count: chunk.count).joined(separator: ",")
                let rows = try Row.fetchCursor(
                    db,
                    sql: """
                        SELECT document_id, partition, siblings, context FROM documents
                        WHERE collection = ? AND document_id IN (\(placeholders))
                        """,
                    arguments: StatementArguments([collection.rawValue] + chunk))
                while let row = try rows.next() {
                    let record = try decode(row, collection: collection)
                    records[record.key] = record
                }
            }
        }
        return records
    }

    private static func decode(_ row: Row, collection: CollectionName) throws -> DocumentRecord {
        guard let id = DocumentID(row[0] as String), let partition = Partition(row[1] as String),
            let context = VersionVector(compactText: row[3])
        else {
            throw StoreError(.notAReplica, "A document row of \(collection) in the replica is malformed; the file may be damaged.")
        }
        return DocumentRecord(
            key: DocumentKey(collection: collection, id: id), partition: partition,
            state: DocumentState(siblings: try Rows.siblings(row[2]), context: context), isStored: true)
    }

    /// Saves the row. `known` gives tombstone flags and wall times of versions in hand, so that
    /// the common case (one new sibling) needs no lookup.
    package mutating func save(_ db: Database, known: [Dot: (isTombstone: Bool, wall: UInt64)]) throws {
        var deleted = true
        var newest: UInt64 = 0
        for dot in state.siblings {
            let facts = try known[dot] ?? Self.facts(db, dot)
            deleted = deleted && facts.isTombstone
            newest = max(newest, facts.wall)
        }
        if isStored {
            let statement = try db.cachedStatement(sql: """
                UPDATE documents SET siblings = ?, context = ?, sibling_count = ?, deleted = ?, updated_wall = ?
                WHERE collection = ? AND document_id = ?
                """)
            try statement.execute(arguments: [
                Rows.siblingsText(state.siblings), state.context.compactText, state.siblings.count, deleted,
                Int64(clamping: newest), key.collection.rawValue, key.id.rawValue,
            ])
        } else {
            let statement = try db.cachedStatement(sql: """
                INSERT INTO documents
                    (collection, document_id, partition, siblings, context, sibling_count, deleted, updated_wall)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """)
            try statement.execute(arguments: [
                key.collection.rawValue, key.id.rawValue, partition.rawValue, Rows.siblingsText(state.siblings),
                state.context.compactText, state.siblings.count, deleted, Int64(clamping: newest),
            ])
        }
    }

    /// Inserts `documents` rows for new documents (``storeNew(_:_:with:)``); a row already there
    /// is left as it is.
    package static let insertNew = """
        INSERT INTO documents
            (collection, document_id, partition, siblings, context, sibling_count, deleted, updated_wall)
        VALUES (?, ?, ?, ?, ?, 1, ?, ?)
        ON CONFLICT (collection, document_id) DO NOTHING
        """

    /// Stores the row of `version`'s document as a new document whose only version is `version`,
    /// unless the replica holds a row for it; `statement` is ``insertNew``. Returns whether it
    /// stored it: when not, read the row and merge into it. One B-tree descent for what is most
    /// of a page (new documents) instead of a lookup and then an insert.
    package static func storeNew(_ db: Database, _ version: Version, with statement: Statement) throws -> Bool {
        try statement.execute(arguments: [
            version.collection.rawValue, version.documentID.rawValue, version.partition.rawValue,
            version.dot.description, historyText(of: version), version.isTombstone,
            Int64(clamping: version.timestamp.wallMilliseconds),
        ])
        return db.changesCount > 0
    }

    /// `version.history.compactText`, written directly when the context is empty (a document's
    /// first version): the same text, without building a vector to sort and join.
    static func historyText(of version: Version) -> String {
        guard version.context.isEmpty else { return version.history.compactText }
        return version.dot.replica.hex + "=" + String(version.dot.counter)
    }

    private static func facts(_ db: Database, _ dot: Dot) throws -> (isTombstone: Bool, wall: UInt64) {
        let statement = try db.cachedStatement(
            sql: "SELECT body IS NULL AND body_dropped = 0, clock_wall FROM versions WHERE origin = ? AND counter = ?")
        guard let row = try Row.fetchOne(statement, arguments: [dot.replica.hex, Int64(dot.counter)]) else {
            throw StoreError(.notAReplica, "A sibling \(dot) has no version row; the replica may be damaged.")
        }
        return (row[0], UInt64(max(0, row[1] as Int64)))
    }
}
