public import Foundation
public import SyncEngine

/// What the console's pages over documents read and write (conflicts, a document and its history,
/// warnings, observations, the exports and the map, resolutions), on any backend: the documents'
/// current states, their versions, the names of their authors, and an operator's resolution.
///
/// The SQLite hub reads its replica's `documents` table (`SQLiteDocumentPages`); the PostgreSQL
/// hub its `document_states` table, kept by every path that stores versions
/// (`PostgresDocumentPages`, Docs/HubPostgres.md, "Document states").
public protocol DocumentPages: Sendable {
    /// The document with all its siblings; nil when the hub holds no version in good standing of it.
    func document(_ key: DocumentKey) async throws -> StoredDocument?

    /// Documents of `collection`, newest change first (the newest sibling's wall time, then the id,
    /// descending), of one partition when given, deleted ones left out; `cursor` continues after a
    /// previous page.
    func documents(in collection: CollectionName, partition: Partition?, limit: Int, after cursor: String?) async throws
        -> DocumentPage

    /// Up to `limit` documents in conflict, newest change first (then collection and id,
    /// descending), of one collection and one partition when given; `cursor` continues after a
    /// previous page.
    func conflicts(in collection: CollectionName?, partition: Partition?, limit: Int, after cursor: String?)
        async throws -> ConflictPage

    /// The collections that hold a document in conflict (at most 100), by name.
    func conflictedCollections() async throws -> [CollectionName]

    /// The newest `limit` versions of the document the hub holds, set-aside ones included, oldest
    /// first (by clock, then arrival).
    func history(of key: DocumentKey, newest limit: Int) async throws -> [StoredVersion]

    /// The names of the devices whose enrolled id or incarnation is one of `origins`; the hub's
    /// writer ids are named `hub`.
    func authorNames(of origins: Set<ReplicaID>) async throws -> [ReplicaID: String]

    /// Writes an operator's resolution of a conflicting document: a version of the hub's, signed
    /// with its key, whose context covers `expectedSiblings` (the siblings the operator saw; any
    /// other state is refused with ``SyncEngineError`` `conflict`), audited (`document.resolved`,
    /// the operator's name, the reason and how) in the same transaction. `body` nil deletes.
    func resolveAsOperator(
        _ key: DocumentKey, body: Data?, expectedSiblings: [Dot], operator name: String, reason: String, how: String
    ) async throws -> Version
}

/// A page of conflicted documents, newest first.
public struct ConflictPage: Sendable {
    public var documents: [StoredDocument]
    /// Where the next page starts; nil on the last page.
    public var nextCursor: String?
}

extension ConflictPage {
    /// A page of `documents`, as each backend makes it.
    public init(_ documents: [StoredDocument], nextCursor: String?) {
        self.documents = documents
        self.nextCursor = nextCursor
    }
}
