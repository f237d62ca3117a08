/// A failure of the hub's database that the hub words for devices, whichever backend threw it:
/// whether the database was only busy (nothing was applied; a retry in a moment may pass) and the
/// failure's code, for the answer's detail and the log.
public protocol HubStorageFailure: Error {
    /// Another writer held the database for too long.
    var isBusy: Bool { get }
    /// The failure's code, as logged (`io`, `diskFull`).
    var codeName: String { get }
}
