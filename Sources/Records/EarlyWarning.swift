import SyncEngine

/// An alert issued to the network (collection `warnings`): how urgent and severe (CAP 1.2 terms),
/// the evidence, the recommended responses, and each recipient's acknowledgement and response —
/// the alert-to-response gap ECOWARN and CEWS name as their greatest challenge.
public struct EarlyWarning: Sendable, Hashable {
    /// One recipient participant and what it did with the warning.
    public struct Recipient: Sendable, Hashable {
        /// The participant's document id (the key in `recipients`).
        public var participant: String
        public var focalPoint: String?
        public var acknowledgedAt: String?
        public var acknowledgedBy: String?
        public var response: Response?
    }

    /// What a recipient did in response.
    public struct Response: Sendable, Hashable {
        public var actionTaken: String
        public var at: String
        public var outcome: String?
    }

    public var schemaVersion: Int
    public var title: String
    public var area: Region
    public var status: WarningStatus
    public var urgency: Urgency
    public var severity: AlertSeverity
    public var issuedAt: String?
    public var expiresAt: String?
    public var situationID: String?
    public var evidence: [String]
    public var riskFactors: [RiskFactor]
    public var indicators: [String]
    public var crimeCategoryHint: CrimeCategoryHint?
    public var productType: WarningProduct?
    public var recommendedResponses: [ResponseOption]
    /// Sorted by participant id.
    public var recipients: [Recipient]
}

extension EarlyWarning {
    static func read(_ body: FieldReader, schemaVersion: Int) -> EarlyWarning? {
        let title = body.text("title", required: true)
        let area = Situation.readArea(body)
        let status = body.term("status", WarningStatus.self, required: true)
        let urgency = body.term("urgency", Urgency.self, required: true)
        let severity = body.term("severity", AlertSeverity.self, required: true)
        let issued = body.timestamp("issued_at", required: status != nil && status != .draft)
        let expires = body.timestamp("expires_at")
        let situation = body.code(
            "situation_id", allowed: "a document id of a situation", { DocumentID($0) != nil })
        let evidence = Situation.readDocumentIDs(body, "evidence")
        let (factors, indicators) = Observation.readRiskFactors(body)
        let hint = body.term("crime_category_hint", CrimeCategoryHint.self)
        let product = body.term("product_type", WarningProduct.self)
        let responses =
            body.list(
                "recommended_responses", maxCount: 50, allowed: "an array of {action, by, timeframe}",
                ResponseOption.read) ?? []
        let recipients = readRecipients(body)
        if let status, status != .draft, recipients.isEmpty, let value = body.fields["status"] {
            body.fail("status", value, allowed: "'draft' until the warning has at least one recipient")
        }
        guard let title, let area, let status, let urgency, let severity else { return nil }
        return EarlyWarning(
            schemaVersion: schemaVersion, title: title, area: area, status: status, urgency: urgency,
            severity: severity, issuedAt: issued, expiresAt: expires, situationID: situation, evidence: evidence,
            riskFactors: factors, indicators: indicators, crimeCategoryHint: hint, productType: product,
            recommendedResponses: responses, recipients: recipients)
    }

    private static func readRecipients(_ body: FieldReader) -> [Recipient] {
        let allowed =
            "an object keyed by participant id: {\"<participant>\": {focal_point, acknowledged_at, acknowledged_by, response}}"
        guard let recipients = body.object("recipients", allowed: allowed) else { return [] }
        var result: [Recipient] = []
        for participant in recipients.fields.keys.sorted() {
            guard DocumentID(participant) != nil else {
                recipients.log.add(
                    recipients.path(participant), FieldReader.show(.string(participant), .shown),
                    allowed: "a participant's document id as the key")
                continue
            }
            guard
                let fields = recipients.object(
                    participant, required: true,
                    allowed: "an object {focal_point, acknowledged_at, acknowledged_by, response}")
            else { continue }
            let focal = fields.text("focal_point")
            let acknowledgedAt = fields.timestamp("acknowledged_at")
            let acknowledgedBy = fields.text("acknowledged_by")
            var response: Response?
            if let answer = fields.object("response", allowed: "an object {action_taken, at, outcome}") {
                let action = answer.text("action_taken", required: true, maxLength: 5_000)
                let at = answer.timestamp("at", required: true)
                let outcome = answer.text("outcome", maxLength: 5_000)
                if let action, let at { response = Response(actionTaken: action, at: at, outcome: outcome) }
                if fields.fields["acknowledged_at"].map({ $0 != .null }) != true {
                    fields.log.add(
                        fields.path("acknowledged_at"), "(missing)",
                        allowed: "the time the recipient acknowledged the warning, required once it has responded")
                }
            }
            result.append(
                Recipient(
                    participant: participant, focalPoint: focal, acknowledgedAt: acknowledgedAt,
                    acknowledgedBy: acknowledgedBy, response: response))
        }
        return result
    }
}
