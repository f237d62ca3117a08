public import SyncEngine

extension AuditAction {
    /// An operator account was made (with a setup link) or removed.
    public static let operatorAdded = AuditAction(rawValue: "operator.added")
    public static let operatorRemoved = AuditAction(rawValue: "operator.removed")
    /// An operator set a password with the setup link.
    public static let operatorPasswordSet = AuditAction(rawValue: "operator.password-set")
    /// A console login succeeded or failed (wrong name or password).
    public static let operatorLogin = AuditAction(rawValue: "operator.login")
    public static let operatorLoginFailed = AuditAction(rawValue: "operator.login-failed")
    /// An operator logged out.
    public static let operatorLogout = AuditAction(rawValue: "operator.logout")
}
