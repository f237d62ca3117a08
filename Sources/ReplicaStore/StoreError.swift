public import SyncEngine

/// A failure of the replica store, said in one sentence for people.
///
/// ``code`` lets the command line pick an exit code and the hub an HTTP status. Messages name
/// files and document keys, never record contents.
public typealias StoreError = CodedFailure<StoreErrorDomain>

/// The domain of ``StoreError``'s codes.
public enum StoreErrorDomain {}

extension ErrorCode where Domain == StoreError {
    /// No replica file at the path.
    public static let replicaMissing = Self("replicaMissing")
    /// `create` found a file already there.
    public static let replicaExists = Self("replicaExists")
    /// The file is not a Vigil replica: corrupt, foreign, or from a newer version.
    public static let notAReplica = Self("notAReplica")
    /// The file or its folder cannot be written.
    public static let readOnly = Self("readOnly")
    /// The disk is full.
    public static let diskFull = Self("diskFull")
    /// Another process held the replica locked for too long.
    public static let busy = Self("busy")
    /// No document with that collection and id.
    public static let documentNotFound = Self("documentNotFound")
    /// A key file is missing, unreadable or not this replica's.
    public static let keyFile = Self("keyFile")
    /// A key file (the device key, an encrypted replica's data key) that other users can read or
    /// write: it is not used.
    public static let keyFileExposed = Self("keyFileExposed")
    /// A received version reuses a dot this replica holds with other content.
    public static let fork = Self("fork")
    /// Any other input/output failure.
    public static let io = Self("io")
    /// A hub this replica pinned presents another key than the one pinned.
    public static let hubKeyChanged = Self("hubKeyChanged")
    /// The passphrase given does not unwrap the encrypted replica's data key.
    public static let wrongPassphrase = Self("wrongPassphrase")
    /// The replica is encrypted and no passphrase was given to open it.
    public static let locked = Self("locked")
    /// The body asked for was dropped after the hub acknowledged it (delete after receipt).
    public static let bodyNotKept = Self("bodyNotKept")
    /// The file is a hub's and was opened as a device's replica, or the reverse; or, opened as a
    /// device's for the first time since roles were recorded, it holds a hub's rows. Nothing was changed.
    public static let roleMismatch = Self("roleMismatch")
}
