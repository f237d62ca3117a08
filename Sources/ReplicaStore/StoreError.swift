/// A failure of the replica store, said in one sentence for people.
///
/// ``code`` lets the command line pick an exit code and the hub an HTTP status. Messages name
/// files and document keys, never record contents.
public struct StoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Value: String {
            case replicaMissing, replicaExists, notAReplica, readOnly, diskFull, busy
            case documentNotFound, keyFile, fork, io, hubKeyChanged
            case wrongPassphrase, locked, bodyNotKept
        }
        let value: Value
        public var description: String { value.rawValue }

        /// No replica file at the path.
        public static let replicaMissing = Code(value: .replicaMissing)
        /// `create` found a file already there.
        public static let replicaExists = Code(value: .replicaExists)
        /// The file is not a Vigil replica: corrupt, foreign, or from a newer version.
        public static let notAReplica = Code(value: .notAReplica)
        /// The file or its folder cannot be written.
        public static let readOnly = Code(value: .readOnly)
        /// The disk is full.
        public static let diskFull = Code(value: .diskFull)
        /// Another process held the replica locked for too long.
        public static let busy = Code(value: .busy)
        /// No document with that collection and id.
        public static let documentNotFound = Code(value: .documentNotFound)
        /// The device key file is missing, unreadable or not private.
        public static let keyFile = Code(value: .keyFile)
        /// A received version reuses a dot this replica holds with other content.
        public static let fork = Code(value: .fork)
        /// Any other input/output failure.
        public static let io = Code(value: .io)
        /// A hub this replica pinned presents another key than the one pinned.
        public static let hubKeyChanged = Code(value: .hubKeyChanged)
        /// The passphrase given does not unwrap the encrypted replica's data key.
        public static let wrongPassphrase = Code(value: .wrongPassphrase)
        /// The replica is encrypted and no passphrase was given to open it.
        public static let locked = Code(value: .locked)
        /// The body asked for was dropped after the hub acknowledged it (delete after receipt).
        public static let bodyNotKept = Code(value: .bodyNotKept)
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
