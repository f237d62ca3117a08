public import Foundation
import GRDB
import HubStore
public import ReplicaStore
import SyncEngine

extension ReplicaStore {

    /// Sets (or, with nil, removes) the TOTP secret of the operator `name`, forgetting the steps
    /// used, and ends the operator's sessions; audited. False when there is no operator of that name.
    public func setOperatorTOTP(name: String, secret: Data?) throws -> Bool {
        let now = options.now()
        return try write { db in
            try db.execute(
                sql: "UPDATE operators SET totp_secret = ?, totp_last_step = NULL WHERE name = ?", arguments: [secret, name])
            guard db.changesCount > 0 else { return false }
            try db.execute(sql: "DELETE FROM operator_sessions WHERE operator = ?", arguments: [name])
            try Self.appendAudit(
                db, actor: AuditEntry.operatorActor, action: .operatorTOTPChanged, subject: name,
                detail: ["totp": secret == nil ? "removed" : "set"], at: now)
            return true
        }
    }

    /// The TOTP secret of the operator `name`; nil without one (or without such an operator).
    public func operatorTOTPSecret(name: String) throws -> Data? {
        try read { db in
            try Data.fetchOne(db, sql: "SELECT totp_secret FROM operators WHERE name = ?", arguments: [name])
        }
    }

    /// Uses up the time step `step` of the operator `name`'s codes: true when it is later than
    /// every step a code was accepted for before (so a code, once accepted, never is again).
    public func useOperatorTOTPStep(name: String, step: UInt64) throws -> Bool {
        try write { db in
            try db.execute(
                sql: """
                    UPDATE operators SET totp_last_step = ?1
                    WHERE name = ?2 AND totp_secret IS NOT NULL AND (totp_last_step IS NULL OR totp_last_step < ?1)
                    """,
                arguments: [Int64(clamping: step), name])
            return db.changesCount > 0
        }
    }
}
