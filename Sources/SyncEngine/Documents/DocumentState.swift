/// What a replica currently holds of one document: the versions no other known version
/// supersedes (its siblings) and the join of everything seen of it.
///
/// One sibling: clean. Several: a conflict. ``merge(_:)`` is a join, so states converge whatever
/// order versions arrive in, and delivering a version twice changes nothing.
public struct DocumentState: Hashable, Sendable {
    /// The current versions' dots, in ascending order.
    public private(set) var siblings: [Dot]
    /// The join of every merged version's history (its context plus its dot).
    public private(set) var context: VersionVector

    /// The state of a document nothing is known of.
    public init() {
        siblings = []
        context = VersionVector()
    }

    /// A state as stored; `siblings` must not cover each other.
    public init(siblings: [Dot], context: VersionVector) {
        self.siblings = siblings.sorted()
        self.context = context
    }

    /// The state reached by merging `versions` in any order: the siblings are the versions no
    /// version's context names. (Computed from the contexts, not by merging one by one: a replica
    /// restored from a backup can write a version whose context lacks an earlier version of its
    /// own, and the joined vector of a state would take that earlier one as seen.)
    public init(merging versions: some Sequence<Version>) {
        var contexts = VersionVector()
        var dots = Set<Dot>()
        for version in versions {
            contexts.merge(version.context)
            dots.insert(version.dot)
        }
        siblings = dots.filter { !contexts.contains($0) }.sorted()
        context = contexts
        for dot in dots { context.add(dot) }
    }

    /// What merging one version did.
    public enum MergeOutcome: Hashable, Sendable {
        /// The version was already known or is superseded: nothing changed.
        case alreadyKnown
        /// The version became a sibling; the listed siblings, which it supersedes, were dropped.
        case added(superseded: [Dot])
    }

    public var isEmpty: Bool { siblings.isEmpty }
    public var isConflicted: Bool { siblings.count > 1 }

    /// Merges a version given by its dot and context.
    @discardableResult
    public mutating func merge(dot: Dot, context versionContext: VersionVector) -> MergeOutcome {
        guard !context.contains(dot) else { return .alreadyKnown }
        return add(dot: dot, context: versionContext)
    }

    /// Merges `version`, where the joined vector cannot tell whether it is known: when the vector
    /// claims its dot, it is known only if it is a sibling or `isNamed` says that a version merged
    /// before names it in its context. A vector claims every dot of an origin up to its highest,
    /// but a replica restored from a backup can write a version whose context lacks an earlier
    /// version of its own (it had not recovered it yet); arriving after it, that earlier version
    /// is a sibling everywhere, whatever the order.
    @discardableResult
    public mutating func merge(_ version: Version, isNamed: (Dot) throws -> Bool) rethrows -> MergeOutcome {
        if context.contains(version.dot) {
            if siblings.contains(version.dot) { return .alreadyKnown }
            if try isNamed(version.dot) { return .alreadyKnown }
        }
        return add(dot: version.dot, context: version.context)
    }

    private mutating func add(dot: Dot, context versionContext: VersionVector) -> MergeOutcome {
        let superseded = siblings.filter { versionContext.contains($0) }
        if !superseded.isEmpty { siblings.removeAll { versionContext.contains($0) } }
        let index = siblings.firstIndex { $0 > dot } ?? siblings.endIndex
        siblings.insert(dot, at: index)
        context.merge(versionContext)
        context.add(dot)
        return .added(superseded: superseded)
    }

    /// Merges `version` into the state.
    @discardableResult
    public mutating func merge(_ version: Version) -> MergeOutcome {
        merge(dot: version.dot, context: version.context)
    }
}
