/// What a replica pushes in one request: the versions the hub lacks, bounded, and causally closed.
///
/// The hub admits a version only when its context is covered by what the hub holds plus the push
/// (``CausalPlausibility``). A push cut by its bounds in the middle of what a version depends on
/// would get that version quarantined, so the selection takes each origin's versions in counter
/// order and stops an origin at the first version whose context names something neither the hub
/// (by the replica's belief) nor the selection holds, then comes back to it once other origins
/// have filled in what it needs.
public enum PushSelection {
    /// Selects from `runs`: for each origin, the versions above `belief`'s entry in counter order
    /// (origins in any fixed order). At most `limit` versions and about `maxBytes` (by `size`);
    /// at least one version when any is waiting. `hasMore` says whether some were left.
    public static func select(
        runs: [[Version]], belief: VersionVector, limit: Int, maxBytes: Int, size: (Version) -> Int
    ) -> (versions: [Version], hasMore: Bool) {
        let waiting = runs.reduce(0) { $0 + $1.count }
        guard waiting > 0 else { return ([], false) }
        var cursors = Array(repeating: 0, count: runs.count)
        var covered = belief
        var selected: [Version] = []
        var bytes = 0
        var full = false
        var progress = true
        while progress, !full {
            progress = false
            for (run, versions) in runs.enumerated() {
                while cursors[run] < versions.count {
                    let version = versions[cursors[run]]
                    var reach = covered
                    reach.add(Dot(replica: version.dot.replica, counter: version.dot.counter - 1))
                    guard reach.dominates(version.context) else { break }
                    let cost = size(version)
                    if selected.count >= limit || (!selected.isEmpty && bytes + cost > maxBytes) {
                        full = true
                        break
                    }
                    selected.append(version)
                    bytes += cost
                    covered.add(version.dot)
                    cursors[run] += 1
                    progress = true
                }
                if full { break }
            }
        }
        if selected.isEmpty {
            // Nothing is closed under what the hub is believed to hold (the belief may be behind):
            // send the first waiting versions and let the hub judge them.
            let first = runs.first { !$0.isEmpty } ?? []
            selected = Array(first.prefix(max(1, limit)))
        }
        return (selected, selected.count < waiting)
    }
}
