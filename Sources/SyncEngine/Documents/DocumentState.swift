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

    /// The state reached by merging `versions` in any order.
    public init(merging versions: some Sequence<Version>) {
        self.init()
        for version in versions { merge(version) }
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
