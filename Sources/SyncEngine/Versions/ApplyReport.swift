/// What applying a batch of received versions did.
public struct ApplyReport: Sendable, Hashable {
    /// Versions stored for the first time.
    public var stored = 0
    /// Versions already held (re-delivery): nothing changed.
    public var alreadyHeld = 0
    /// Versions that were set aside instead of merged, with the reason.
    public var setAside: [Dot: SetAsideReason] = [:]
    /// Dots this replica already holds with different content: a forked origin.
    public var forks: [Dot] = []
    /// Dots of another origin held here with different content whose copy gave way to the
    /// peer's version (``OthersForks/takePeers``).
    public var replacedForks: [Dot] = []
    /// Versions not stored: refused by the admission rule, or after a fork of their origin.
    public var refused: [Dot] = []
    /// Among ``refused``, the versions refused because their context claims what does not exist
    /// (when the apply was told to refuse implausible contexts), with why.
    public var implausible: [Dot: SetAsideReason] = [:]
    /// Versions held aside as implausible earlier that this batch made plausible: now merged.
    public var released: [Dot] = []

    public init() {}
}
