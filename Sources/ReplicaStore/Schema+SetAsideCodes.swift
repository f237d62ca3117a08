import GRDB

extension Schema {
    /// `v21-set-aside-codes`: a set-aside version's reason as a code (``SetAsideReason/Code``) beside
    /// its sentence, so that no query or program parses the sentence. Rows set aside before take the
    /// code their sentence was written with; `set_aside_code` is set exactly when `set_aside_reason` is.
    /// A hub's foreign quarantine gets its code too (a bad signature, or an implausible context).
    static func migrateSetAsideCodes(_ db: Database) throws {
        try db.execute(
            sql: """
                ALTER TABLE versions ADD COLUMN set_aside_code TEXT;
                UPDATE versions SET set_aside_code = CASE
                    WHEN set_aside_reason LIKE 'implausible context%' THEN 'implausible-context'
                    WHEN set_aside_reason LIKE 'rejected by the hub%' THEN 'rejected-by-hub'
                    WHEN set_aside_reason LIKE 'it moves %' THEN 'partition-move'
                    WHEN set_aside_reason = 'outside this device''s read scope' THEN 'outside-read-scope'
                    WHEN set_aside_reason LIKE 'set aside: the hub holds another version%' THEN 'forked-origin'
                    WHEN set_aside_reason LIKE 'out of scope%' THEN 'out-of-scope'
                    WHEN set_aside_reason LIKE 'bad signature%' THEN 'bad-signature'
                    ELSE 'invalid-record' END
                WHERE set_aside_reason IS NOT NULL;
                ALTER TABLE foreign_quarantine ADD COLUMN code TEXT NOT NULL DEFAULT 'bad-signature';
                UPDATE foreign_quarantine SET code = 'implausible-context' WHERE reason LIKE 'implausible context%';
                """)
    }
}
