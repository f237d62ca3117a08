/// A failure in the sync model: an invalid record, key or message.
///
/// The message is one sentence for people; ``code`` lets the edges choose an exit code or an
/// HTTP status. Messages never quote record contents.
public struct SyncEngineError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Value: String {
            case invalidBody, invalidIdentifier, invalidKey, invalidMessage, conflict
            case partitionMismatch, unsupportedProtocol, baseNotHeld
        }
        let value: Value
        public var description: String { value.rawValue }

        /// A body that is not a JSON object, or is too large.
        public static let invalidBody = Code(value: .invalidBody)
        /// A collection, document id, partition or replica id that breaks its rule.
        public static let invalidIdentifier = Code(value: .invalidIdentifier)
        /// A key that is not an Ed25519 key.
        public static let invalidKey = Code(value: .invalidKey)
        /// A sync message that cannot be understood.
        public static let invalidMessage = Code(value: .invalidMessage)
        /// A write to a document in conflict that does not say it resolves it.
        public static let conflict = Code(value: .conflict)
        /// A write that would move a document to another partition.
        public static let partitionMismatch = Code(value: .partitionMismatch)
        /// A peer speaking a protocol version this build does not.
        public static let unsupportedProtocol = Code(value: .unsupportedProtocol)
        /// A write whose base claims versions of the document this replica does not hold.
        public static let baseNotHeld = Code(value: .baseNotHeld)
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
