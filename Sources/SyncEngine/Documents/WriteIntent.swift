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
    /// What the writer saw of the document: the context it read (its state's context then). Nil
    /// means "what this replica holds now". With a base, a sibling the base did not see stays
    /// beside the new version (a conflict) instead of being superseded; see ``plan(_:)``.
    public var base: VersionVector?

    public init(
        key: DocumentKey, partition: Partition? = nil, body: Data?, isResolution: Bool = false,
        expectedSiblings: [Dot]? = nil, base: VersionVector? = nil
    ) {
        self.key = key
        self.partition = partition
        self.body = body
        self.isResolution = isResolution
        self.expectedSiblings = expectedSiblings
        self.base = base
    }
}

/// What a replica holds of one document when it plans a write to it.
public struct DocumentHolding: Sendable, Hashable {
    /// The document's state (empty for a new document).
    public var state: DocumentState
    /// The document's partition; nil for a new document.
    public var partition: Partition?
    /// The join of the histories (context plus dot) of the writing replica's own versions of the
    /// document, set aside or not: a replica's versions of one document form a chain.
    public var ownHistory: VersionVector
    /// The context of every version of the document in good standing the replica holds, by dot:
    /// what closes a base under what its versions had seen. Only read for a write with a base.
    public var contexts: [Dot: VersionVector]

    public init(
        state: DocumentState, partition: Partition?, ownHistory: VersionVector = VersionVector(),
        contexts: [Dot: VersionVector] = [:]
    ) {
        self.state = state
        self.partition = partition
        self.ownHistory = ownHistory
        self.contexts = contexts
    }

    /// Everything the replica holds of the document: its state's context and its own versions.
    public var held: VersionVector { state.context.merged(with: ownHistory) }
}

/// The context and partition a write gets.
public struct WritePlan: Sendable, Hashable {
    /// The new version's causal context.
    public var context: VersionVector
    /// The new version's partition.
    public var partition: Partition
    /// The current siblings the new version does not supersede because its base did not see them:
    /// they stay beside it, and the document is in conflict. Empty without a base.
    public var unseenSiblings: [Dot]
}

extension WriteIntent {
    /// The context and partition a write with this intent gets against what the replica holds of
    /// the document; throws ``SyncEngineError`` when the write is refused. Pure.
    ///
    /// Without a ``base`` the context is everything held of the document (its state's context
    /// joined with ``DocumentHolding/ownHistory``): the write supersedes every sibling. That is
    /// why such a write to a document in conflict is refused unless it is a resolution.
    ///
    /// With a base:
    /// - the base may not claim more than the replica holds of the document (an entry above
    ///   ``DocumentHolding/held``, which includes an origin it has not seen): ``SyncEngineError/Code/baseNotHeld``.
    ///   Such a context would claim versions nobody can deliver; hubs set such versions aside.
    /// - A base that saw every current sibling gives the same context as a write without one.
    /// - A base that missed siblings gives the base, closed under the contexts of the versions it
    ///   covers, joined with ``DocumentHolding/ownHistory``: never the current state. The siblings it
    ///   missed stay beside the new version (``WritePlan/unseenSiblings``): a conflict appears.
    ///   This is allowed on a document in conflict too, without ``isResolution``: it does not
    ///   resolve the conflict, the siblings the base did not see stay.
    /// - A write that would supersede every sibling of a document in conflict is a resolution and
    ///   must say so, with or without a base; a resolution's base must have seen every sibling.
    public func plan(_ holding: DocumentHolding) throws -> WritePlan {
        let state = holding.state
        if let base { try checkHeld(base, holding) }
        let unseen = base.map { base in state.siblings.filter { !base.contains($0) } } ?? []
        try checkResolution(of: state, supersedingEverySibling: unseen.isEmpty)
        if let expectedSiblings, expectedSiblings.sorted() != state.siblings {
            throw SyncEngineError(
                .conflict, "\(key) changed while you were resolving it (it now has \(state.siblings.count) versions).",
                facts: key.facts)
        }
        let partition = try plannedPartition(holding.partition)
        guard let base, !unseen.isEmpty else {
            return WritePlan(context: holding.held, partition: partition, unseenSiblings: [])
        }
        let context = Self.closed(base, under: holding.contexts).merged(with: holding.ownHistory)
        return WritePlan(context: context, partition: partition, unseenSiblings: unseen.filter { !context.contains($0) })
    }

    /// The context and partition a write with this intent gets against `state`, whose existing
    /// partition is `currentPartition` (nil for a new document), when the replica holds no other
    /// version of the document; throws when the write is refused. See ``plan(_:)``.
    public func plan(
        against state: DocumentState, currentPartition: Partition?
    ) throws -> (context: VersionVector, partition: Partition) {
        let plan = try plan(DocumentHolding(state: state, partition: currentPartition))
        return (plan.context, plan.partition)
    }

    private func plannedPartition(_ currentPartition: Partition?) throws -> Partition {
        if let currentPartition, let partition, partition != currentPartition {
            throw SyncEngineError(
                .partitionMismatch,
                "\(key) belongs to partition '\(currentPartition)' and cannot move to '\(partition)'; partitions never change.")
        }
        return currentPartition ?? partition ?? .default
    }

    /// Refuses a resolution of a clean document, a write that would resolve a conflict without
    /// saying so, and a resolution that would leave a sibling its writer did not see.
    private func checkResolution(of state: DocumentState, supersedingEverySibling: Bool) throws {
        if isResolution && !state.isConflicted {
            throw SyncEngineError(.conflict, "\(key) is not in conflict; there is nothing to resolve.")
        }
        if state.isConflicted && supersedingEverySibling && !isResolution {
            throw SyncEngineError(
                .conflict, "\(key) has \(state.siblings.count) conflicting versions; a write must resolve them.",
                facts: key.facts)
        }
        if isResolution && !supersedingEverySibling {
            throw SyncEngineError(
                .conflict,
                "\(key) changed since its base was read (it now has \(state.siblings.count) versions, not all of them seen); a resolution must have seen every version it supersedes.")
        }
    }

    /// Refuses a base that claims more of the document than the replica holds.
    private func checkHeld(_ base: VersionVector, _ holding: DocumentHolding) throws {
        let held = holding.held
        for (origin, claimed) in base.sortedEntries where claimed > held[origin] {
            throw SyncEngineError(
                .baseNotHeld,
                "The base of the write to \(key) claims \(origin.short):\(claimed), but this replica holds \(held[origin] == 0 ? "nothing of \(origin.short)" : "at most \(origin.short):\(held[origin])") in that document.")
        }
    }

    /// `base` joined with the context of every version it covers, until nothing changes: a
    /// context covers what the versions it covers had seen, which version vectors rely on.
    static func closed(_ base: VersionVector, under contexts: [Dot: VersionVector]) -> VersionVector {
        var closed = base
        var pending = contexts
        var changed = true
        while changed {
            changed = false
            for (dot, context) in pending where closed.contains(dot) {
                pending[dot] = nil
                if !closed.dominates(context) {
                    closed.merge(context)
                    changed = true
                }
            }
        }
        return closed
    }
}
