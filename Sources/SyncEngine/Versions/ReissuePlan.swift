/// Where a forked replica's own versions from the fork point on go when it takes a new
/// incarnation: each is re-issued under the new id, in counter order from 1, unless another
/// incarnation of the same device already re-issued it (equal document, partition, timestamp and
/// body), in which case that earlier re-issue takes its place.
public struct ReissuePlan: Sendable {
    /// The first dot of the old id the network holds with other content.
    public let fork: Dot
    /// The id the replica goes on as.
    public let newID: ReplicaID
    /// Each own version's old counter and the dot that stands for it now: a dot of `newID`, or
    /// of an earlier re-issue.
    public private(set) var mapping: [UInt64: Dot] = [:]
    /// The earlier re-issues that take the place of own versions, in the order of those.
    public private(set) var taken: [Version] = []

    /// Plans the re-issue of `reissuing` (the own versions from `fork` on, in counter order),
    /// given `earlier`, versions this device's other ids hold.
    public init(reissuing: [Version], fork: Dot, newID: ReplicaID, earlier: [Version]) {
        self.fork = fork
        self.newID = newID
        var candidates = Dictionary(grouping: earlier, by: ReissueProbe.init)
        var next: UInt64 = 0
        for version in reissuing {
            let probe = ReissueProbe(version)
            if let index = candidates[probe]?.firstIndex(where: { Self.sameContent($0, version) }),
                let match = candidates[probe]?.remove(at: index)
            {
                mapping[version.dot.counter] = match.dot
                taken.append(match)
            } else {
                next += 1
                mapping[version.dot.counter] = Dot(replica: newID, counter: next)
            }
        }
    }

    /// Whether two versions say the same thing at the same time about the same document.
    static func sameContent(_ a: Version, _ b: Version) -> Bool {
        a.collection == b.collection && a.documentID == b.documentID && a.partition == b.partition
            && a.timestamp == b.timestamp && a.body == b.body
    }

    /// An own version's context with the old id's entries at or beyond the fork point turned into
    /// the dots that stand for them now.
    public func translate(_ context: VersionVector) -> VersionVector {
        let entry = context[fork.replica]
        guard entry >= fork.counter else { return context }
        var translated = context
        translated[fork.replica] = fork.counter - 1
        for (counter, dot) in mapping where counter <= entry {
            translated[dot.replica] = max(translated[dot.replica], dot.counter)
        }
        return translated
    }
}
