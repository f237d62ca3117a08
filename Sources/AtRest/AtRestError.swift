/// A failure of encryption at rest, said in one sentence.
///
/// Messages name what failed, never a passphrase, a key or the content that was sealed.
public struct AtRestError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Value: String {
            case wrongPassphrase, emptyPassphrase, malformedKeyFile, unsupportedFormat, parametersOutOfBounds
            case tampered, notSealed, derivationFailed, duressIsPassphrase
        }
        let value: Value
        public var description: String { value.rawValue }

        /// The passphrase does not unwrap the data key (or the wrapped key was altered).
        public static let wrongPassphrase = Code(value: .wrongPassphrase)
        /// A passphrase was empty.
        public static let emptyPassphrase = Code(value: .emptyPassphrase)
        /// The wrapped-key file is not one this program wrote.
        public static let malformedKeyFile = Code(value: .malformedKeyFile)
        /// The wrapped-key file or a sealed value has a format this program does not know.
        public static let unsupportedFormat = Code(value: .unsupportedFormat)
        /// Key-derivation parameters outside the bounds this program accepts.
        public static let parametersOutOfBounds = Code(value: .parametersOutOfBounds)
        /// A sealed value does not open under its label: altered, or moved from another row.
        public static let tampered = Code(value: .tampered)
        /// A value expected sealed is stored in clear.
        public static let notSealed = Code(value: .notSealed)
        /// The key derivation itself failed (out of memory).
        public static let derivationFailed = Code(value: .derivationFailed)
        /// A duress passphrase was chosen equal to the passphrase that opens the replica.
        public static let duressIsPassphrase = Code(value: .duressIsPassphrase)
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
