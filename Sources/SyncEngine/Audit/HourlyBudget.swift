/// What a hub's per-device hourly limit counts (the SQLite and the PostgreSQL hub's audit logs
/// count the same): beyond a limit, what the device causes until the hour ends is counted in the
/// table `audit_suppressed` instead of written.
package enum HourlyBudget {
    /// Audit entries whose actor is the device.
    case auditEntries
    /// Rows of the foreign quarantine the device pushed.
    case foreignQuarantine

    /// The suppression kind the budget counts beyond its limit (audit entries by action).
    package static let foreignQuarantineKind = "foreign-quarantine"

    /// Which rows of `audit_suppressed` are this budget's (an SQL condition both backends run).
    package var suppressedKinds: String {
        switch self {
        case .auditEntries: "kind <> '\(Self.foreignQuarantineKind)'"
        case .foreignQuarantine: "kind = '\(Self.foreignQuarantineKind)'"
        }
    }

    /// The start of the hour `milliseconds` falls in.
    package static func hourStart(_ milliseconds: UInt64) -> UInt64 { milliseconds - milliseconds % 3_600_000 }
}
