/// Whether a received version's causal context could be true: a writer can only have seen what
/// existed, so a receiver admits a version only when every context entry is covered by what the
/// receiver holds plus the versions arriving with it, and the version's own origin's entry is
/// below its counter.
///
/// Without this rule one signed version claiming `R: 2^63-1` for every origin would make every
/// later version of those origins "already known" in its document, on every replica: the document
/// would stay frozen on the attacker's content, and no resolution could undo it.
public struct CausalPlausibility: Sendable, Hashable {
    /// What the receiver holds of every origin a checked context names, joined with the dots of
    /// the batch (a push or a page) that arrives together.
    public let bound: VersionVector

    /// `held` must cover at least every origin the batch's contexts name (absent origins count as 0).
    public init(held: VersionVector, batch: some Sequence<Version>) {
        var bound = held
        for version in batch { bound.add(version.dot) }
        self.bound = bound
    }

    /// The origins whose knowledge a check of `batch` needs.
    public static func origins(of batch: some Sequence<Version>) -> Set<ReplicaID> {
        var origins = Set<ReplicaID>()
        for version in batch {
            origins.insert(version.dot.replica)
            origins.formUnion(version.context.entries.keys)
        }
        return origins
    }

    /// Why a context is implausible.
    public struct Problem: Sendable, Hashable, CustomStringConvertible {
        /// The origin whose entry is too high.
        public let origin: ReplicaID
        /// The entry the context claims.
        public let claimed: UInt64
        /// The highest the entry could be.
        public let limit: UInt64

        public init(origin: ReplicaID, claimed: UInt64, limit: UInt64) {
            self.origin = origin
            self.claimed = claimed
            self.limit = limit
        }

        public var description: String {
            "its context claims \(origin.short):\(claimed), but at most \(origin.short):\(limit) exists"
        }
    }

    /// The first implausible entry of `version`'s context (in canonical order), or nil when the
    /// context could be true.
    public func problem(of version: Version) -> Problem? {
        let own = version.dot.replica
        let ownClaim = version.context[own]
        if ownClaim >= version.dot.counter {
            return Problem(origin: own, claimed: ownClaim, limit: version.dot.counter - 1)
        }
        for (origin, claimed) in version.context.sortedEntries where claimed > bound[origin] {
            return Problem(origin: origin, claimed: claimed, limit: bound[origin])
        }
        return nil
    }
}

extension CausalPlausibility {
    /// `versions` in an order in which each comes after every version of the batch its context
    /// names, and after the versions of its own origin with lower counters: the order a receiver
    /// applies a batch in, so that its feed never serves a version before what it depends on.
    ///
    /// Deterministic (ties go by dot); a duplicate dot keeps its first occurrence. A cycle, which
    /// only forged contexts can make, is broken rather than followed.
    public static func causalOrder(_ versions: [Version]) -> [Version] {
        var byOrigin: [ReplicaID: [Version]] = [:]
        var seen = Set<Dot>()
        for version in versions where seen.insert(version.dot).inserted {
            byOrigin[version.dot.replica, default: []].append(version)
        }
        for origin in byOrigin.keys { byOrigin[origin]?.sort { $0.dot.counter < $1.dot.counter } }

        /// The batch's versions `version` depends on directly: its origin's previous one, and for
        /// each other origin its context names, the highest one of the batch the context covers.
        func dependencies(of version: Version) -> [Dot] {
            let own = version.dot.replica
            var dots: [Dot] = []
            if let run = byOrigin[own], let last = lastIndex(in: run, atMost: version.dot.counter - 1) {
                dots.append(run[last].dot)
            }
            for (origin, counter) in version.context.entries where origin != own {
                if let run = byOrigin[origin], let last = lastIndex(in: run, atMost: counter) { dots.append(run[last].dot) }
            }
            return dots.sorted(by: >)  // popped from the end: the lowest dot first
        }

        let index = Dictionary(uniqueKeysWithValues: byOrigin.values.joined().map { ($0.dot, $0) })
        var ordered: [Version] = []
        ordered.reserveCapacity(index.count)
        var state: [Dot: Bool] = [:]  // false: being visited; true: placed
        for start in index.keys.sorted() where state[start] == nil {
            // An explicit stack: a long chain must not exhaust the thread's stack.
            guard let first = index[start] else { continue }
            var stack: [(dot: Dot, dependencies: [Dot])] = [(start, dependencies(of: first))]
            state[start] = false
            while !stack.isEmpty {
                if let next = stack[stack.count - 1].dependencies.popLast() {
                    guard state[next] == nil, let version = index[next] else { continue }
                    state[next] = false
                    stack.append((next, dependencies(of: version)))
                } else {
                    let done = stack.removeLast().dot
                    state[done] = true
                    if let version = index[done] { ordered.append(version) }
                }
            }
        }
        return ordered
    }

    /// The index of the last version in `run` (sorted by counter) whose counter is at most `limit`.
    private static func lastIndex(in run: [Version], atMost limit: UInt64) -> Int? {
        var low = 0
        var high = run.count
        while low < high {
            let middle = (low + high) / 2
            if run[middle].dot.counter <= limit { low = middle + 1 } else { high = middle }
        }
        return low == 0 ? nil : low - 1
    }
}
