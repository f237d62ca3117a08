public import SyncEngine

extension AuditAction {
    /// An operator's second factor (a TOTP secret) was set, replaced or removed.
    public static let operatorTOTPChanged = AuditAction(rawValue: "operator.totp-changed")
}
