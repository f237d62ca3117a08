public import Foundation

/// What a writer wants to do to a document, before it becomes a ``Version``.
public struct WriteIntent: Sendable, Hashable {
    public var key: DocumentKey
    /// The partition for a new document; a write to an existing one must name the same or none.
    public var partition: Partition?
    /// The new JSON body; nil deletes the document (a tombstone).
    public var body: Data?
    /// Set when the write resolves a conflict: it then supersedes every current sibling.
    public var isResolution: Bool
    /// For a resolution: the siblings the writer looked at. When given, the write is refused if
    /// the document's siblings are no longer exactly these (a version arrived in between), so a
    /// resolution never covers a version nobody saw.
    public var expectedSiblings: [Dot]?

    public init(
        key: DocumentKey, partition: Partition? = nil, body: Data?, isResolution: Bool = false,
        expectedSiblings: [Dot]? = nil
    ) {
        self.key = key
        self.partition = partition
        self.body = body
        self.isResolution = isResolution
        self.expectedSiblings = expectedSiblings
    }

    /// The context and partition a write with this intent gets against `state`, whose existing
    /// partition is `currentPartition` (nil for a new document); throws when the write is refused.
    ///
    /// The context is everything seen of the document, so the write supersedes every sibling.
    /// That is why a plain edit of a document in conflict is refused: it would resolve the
    /// conflict without saying so.
    public func plan(
        against state: DocumentState, currentPartition: Partition?
    ) throws -> (context: VersionVector, partition: Partition) {
        if state.isConflicted && !isResolution {
            throw SyncEngineError(
                .conflict,
                "\(key) has \(state.siblings.count) conflicting versions; resolve them with `fieldcli conflicts resolve \(key.collection) \(key.id)`.")
        }
        if isResolution && !state.isConflicted {
            throw SyncEngineError(.conflict, "\(key) is not in conflict; there is nothing to resolve.")
        }
        if let expectedSiblings, expectedSiblings.sorted() != state.siblings {
            throw SyncEngineError(
                .conflict,
                "\(key) changed while you were resolving it (it now has \(state.siblings.count) versions); look again with `fieldcli conflicts show \(key.collection) \(key.id)` and resolve again.")
        }
        if let currentPartition, let partition, partition != currentPartition {
            throw SyncEngineError(
                .partitionMismatch,
                "\(key) belongs to partition '\(currentPartition)' and cannot move to '\(partition)'; partitions never change.")
        }
        return (state.context, currentPartition ?? partition ?? .default)
    }
}
