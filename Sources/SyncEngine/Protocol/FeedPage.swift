/// A point in a replica's changes feed: a local sequence and the dot stored there, so that a
/// position given out by one replica file is recognised as foreign by another (or by an older copy).
public struct FeedPosition: Sendable, Hashable {
    /// The local sequence; 0 is the start of the feed.
    public var sequence: Int64
    /// The dot stored at ``sequence``; nil at the start, and in a position read from a checkpoint
    /// that names its row by ``tag`` alone.
    public var dot: Dot?
    /// The random tag drawn when that version was stored at ``sequence`` (32 bits): a replica
    /// restored from a backup that stores the same version again at the same sequence draws
    /// another, so the position is not taken for its. Nil in positions from before tags.
    public var tag: UInt32?

    public init(sequence: Int64, dot: Dot?, tag: UInt32? = nil) {
        self.sequence = sequence
        self.dot = dot
        self.tag = tag
    }

    /// The start of every feed.
    public static let start = FeedPosition(sequence: 0, dot: nil)
}

/// One page of a changes feed read in one snapshot, with the knowledge asked for in that snapshot.
public struct FeedPage: Sendable, Hashable {
    /// The versions in arrival order.
    public var versions: [Version]
    /// Where the next page starts; it covers the versions scanned past by the filter.
    public var end: FeedPosition
    /// Whether more versions are waiting after this page.
    public var hasMore: Bool
    /// Whether the requested position was not one of this replica's (unknown sequence or another
    /// dot there), so the page starts at the beginning instead.
    public var restarted: Bool
    /// This replica's knowledge of the requested origins and of every origin the page's versions
    /// and their contexts name (absent entries are 0).
    public var knowledge: VersionVector

    public init(versions: [Version], end: FeedPosition, hasMore: Bool, restarted: Bool, knowledge: VersionVector) {
        self.versions = versions
        self.end = end
        self.hasMore = hasMore
        self.restarted = restarted
        self.knowledge = knowledge
    }
}
