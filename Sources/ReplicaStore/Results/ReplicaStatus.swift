public import SyncEngine

/// A replica at a glance.
public struct ReplicaStatus: Sendable, Hashable {
    public var replicaID: ReplicaID
    /// The last counter this replica used.
    public var counter: UInt64
    /// The highest counter received of every origin.
    public var knowledge: VersionVector
    /// Live (not deleted) documents per collection.
    public var documentsPerCollection: [CollectionName: Int]
    /// Documents whose siblings are all tombstones.
    public var deletedDocuments: Int
    /// Documents in conflict.
    public var conflicts: Int
    /// Every version held.
    public var versions: Int
    /// Versions set aside because the network rejected them.
    public var setAside: Int
    /// This replica's earlier ids (it forked and took a new incarnation), oldest first.
    public var earlierIncarnations: [Incarnation] = []
    /// Versions whose body was dropped after the hub acknowledged them (delete after receipt).
    public var droppedBodies = 0
    /// Which acknowledged bodies this replica keeps.
    public var keepSent = KeepSent.all

    public init(
        replicaID: ReplicaID, counter: UInt64, knowledge: VersionVector,
        documentsPerCollection: [CollectionName: Int], deletedDocuments: Int, conflicts: Int,
        versions: Int, setAside: Int
    ) {
        self.replicaID = replicaID
        self.counter = counter
        self.knowledge = knowledge
        self.documentsPerCollection = documentsPerCollection
        self.deletedDocuments = deletedDocuments
        self.conflicts = conflicts
        self.versions = versions
        self.setAside = setAside
    }
}
