public import SyncEngine

extension AuditAction {
    /// The hub made the network's informant key (detail: its id, and whether a key file was written).
    public static let informantKeyCreated = AuditAction(rawValue: "informant-key.created")
    /// The informant key was sealed to an operator (detail: key id and by whom).
    public static let informantKeyGranted = AuditAction(rawValue: "informant-key.granted")
}
