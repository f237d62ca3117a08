/// Which versions of a hub's changes feed one reader gets, as a value: a storage backend checks
/// each version it scans with ``includes(_:receivedFrom:)`` (a SQL backend can turn the scopes and
/// the reader's id into a `WHERE` clause on collection, partition, origin and sender).
public struct FeedFilter: Sendable, Hashable {
    /// What the reader may read.
    public var readScope: Scope
    /// What the reader read before under earlier grants, from this feed: passed over (a backfill
    /// after its read scope widened sends only what is newly in scope).
    public var alreadyRead: Scope?
    /// The reader, whose own versions and whose pushes are not sent back to it; nil for a reader
    /// that gets everything in scope (a dump, a test).
    public var reader: ReplicaID?
    /// The highest counter of its own id the reader holds: its own versions above it are sent
    /// (a replica restored from a backup recovers them).
    public var readerCounter: UInt64
    /// Whether the reader's own versions and pushes are sent back too (a pull that starts over).
    public var resendsOwn: Bool

    public init(
        readScope: Scope, alreadyRead: Scope? = nil, reader: ReplicaID?, readerCounter: UInt64 = 0, resendsOwn: Bool = false
    ) {
        self.readScope = readScope
        self.alreadyRead = alreadyRead
        self.reader = reader
        self.readerCounter = readerCounter
        self.resendsOwn = resendsOwn
    }

    /// Everything in the feed.
    public static let everything = FeedFilter(readScope: .everything, reader: nil)

    /// Whether the reader gets `version`, delivered to the hub by `receivedFrom` (nil: written there).
    public func includes(_ version: Version, receivedFrom: ReplicaID?) -> Bool {
        guard readScope.allows(collection: version.collection, partition: version.partition) else { return false }
        if let alreadyRead, alreadyRead.allows(collection: version.collection, partition: version.partition) { return false }
        guard let reader, !resendsOwn else { return true }
        if version.dot.replica == reader { return version.dot.counter > readerCounter }
        return receivedFrom != reader
    }
}
