/// A failure in the sync model: an invalid record, key or message.
///
/// The message is one sentence for people; ``code`` lets the edges choose an exit code or an
/// HTTP status. Messages never quote record contents.
public typealias SyncEngineError = CodedFailure<SyncEngineErrorDomain>

/// The domain of ``SyncEngineError``'s codes.
public enum SyncEngineErrorDomain {}

extension ErrorCode where Domain == SyncEngineError {
    /// A body that is not a JSON object, or is too large.
    public static let invalidBody = Self("invalidBody")
    /// A collection, document id, partition or replica id that breaks its rule.
    public static let invalidIdentifier = Self("invalidIdentifier")
    /// A key that is not an Ed25519 key.
    public static let invalidKey = Self("invalidKey")
    /// A sync message that cannot be understood.
    public static let invalidMessage = Self("invalidMessage")
    /// A write to a document in conflict that does not say it resolves it.
    public static let conflict = Self("conflict")
    /// A write that would move a document to another partition.
    public static let partitionMismatch = Self("partitionMismatch")
    /// A peer speaking a protocol version this build does not.
    public static let unsupportedProtocol = Self("unsupportedProtocol")
    /// A write whose base claims versions of the document this replica does not hold.
    public static let baseNotHeld = Self("baseNotHeld")
}
