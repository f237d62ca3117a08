/// A document as a replica currently holds it: its state and the versions that are its siblings.
public struct StoredDocument: Sendable, Hashable {
    public var key: DocumentKey
    public var partition: Partition
    public var state: DocumentState
    /// The sibling versions, in the order of ``DocumentState/siblings``.
    public var siblings: [Version]
    /// The siblings whose body was dropped after the hub acknowledged them (delete after receipt):
    /// their body is nil, yet they are not tombstones.
    public var droppedBodies: Set<Dot>

    public init(
        key: DocumentKey, partition: Partition, state: DocumentState, siblings: [Version], droppedBodies: Set<Dot> = []
    ) {
        self.key = key
        self.partition = partition
        self.state = state
        self.siblings = siblings
        self.droppedBodies = droppedBodies
    }

    public var isConflicted: Bool { siblings.count > 1 }
    /// Every sibling is a tombstone.
    public var isDeleted: Bool {
        !siblings.isEmpty && siblings.allSatisfy { $0.isTombstone && !droppedBodies.contains($0.dot) }
    }
    /// Some sibling's body was sent and not kept here.
    public var isNotKeptHere: Bool { !droppedBodies.isEmpty }
    /// The newest sibling's timestamp.
    public var updatedAt: HybridTimestamp { siblings.map(\.timestamp).max() ?? .zero }
}

/// One page of a document listing, newest first.
public struct DocumentPage: Sendable, Hashable {
    public var documents: [StoredDocument]
    /// Pass to the next call to continue; nil on the last page.
    public var nextCursor: String?

    public init(documents: [StoredDocument], nextCursor: String?) {
        self.documents = documents
        self.nextCursor = nextCursor
    }
}
