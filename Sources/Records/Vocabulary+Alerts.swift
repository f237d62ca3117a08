// Vocabularies of warnings: urgency and severity follow the OASIS Common Alerting Protocol 1.2;
// product types follow WANEP's early-warning products.

/// How soon responders should act (CAP 1.2 `urgency`).
public enum Urgency: String, RecordVocabulary {
    case immediate, expected, future, past, unknown
}

/// How grave the threat is (CAP 1.2 `severity`).
public enum AlertSeverity: String, RecordVocabulary {
    case extreme, severe, moderate, minor, unknown
}

/// The kind of product a warning is issued as (WANEP's product list).
public enum WarningProduct: String, RecordVocabulary {
    case quickUpdate = "quick_update"
    case advisoryNote = "advisory_note"
    case policyBrief = "policy_brief"
    case weeklyHighlight = "weekly_highlight"
}

/// Where a warning stands, from drafting to closing (the alert-to-response chain).
public enum WarningStatus: String, RecordVocabulary {
    case draft, issued, acknowledged, responded, closed
}
