import SyncEngine

/// An analyst's risk assessment of an area over a period (collection `situations`): the UN
/// Framework's risk factors with trend, confidence and the observations they rest on, scenarios
/// and response options (AU CEWS analysis steps), and an overall risk level.
public struct Situation: Sendable, Hashable {
    /// One risk factor as assessed for this situation.
    public struct RiskFactorAssessment: Sendable, Hashable {
        public var riskFactor: RiskFactor
        public var indicatorsPresent: [String]
        public var trend: Trend
        public var confidence: Confidence
        /// The ids of the observations the assessment rests on.
        public var observationIDs: [String]
    }

    /// A way the situation may unfold.
    public struct Scenario: Sendable, Hashable {
        public var name: String
        public var description: String?
        public var likelihood: Confidence?
    }

    public var schemaVersion: Int
    public var title: String
    public var area: Region
    public var periodStart: CalendarDate
    public var periodEnd: CalendarDate
    public var riskFactors: [RiskFactorAssessment]
    public var linkedObservations: [String]
    public var scenarios: [Scenario]
    public var responseOptions: [ResponseOption]
    public var overallRiskLevel: Level
}

/// An action the network could take (CEWS response options, warnings' recommended responses).
public struct ResponseOption: Sendable, Hashable {
    public var action: String
    /// Who would act: a participant, an authority, a mechanism.
    public var by: String?
    public var timeframe: String?

    static func read(_ value: JSONValue, _ element: ElementReader) -> ResponseOption? {
        guard let fields = element.object(value, allowed: "an object {action, by, timeframe}") else { return nil }
        let action = fields.text("action", required: true, maxLength: 2_000)
        let by = fields.text("by")
        let timeframe = fields.text("timeframe")
        guard let action else { return nil }
        return ResponseOption(action: action, by: by, timeframe: timeframe)
    }
}

extension Situation {
    static func read(_ body: FieldReader, schemaVersion: Int) -> Situation? {
        let title = body.text("title", required: true)
        let area = readArea(body)
        let start = body.date("period_start", required: true)
        let end = body.date("period_end", required: true)
        if let start, let end, end < start, let value = body.fields["period_end"] {
            body.fail("period_end", value, allowed: "a date on or after period_start (\(start))")
        }
        for key in ["structural_analysis", "actor_analysis", "dynamic_analysis"] {
            _ = body.text(key, maxLength: 50_000)
        }
        var assessed: [RiskFactor] = []
        let factors =
            body.list(
                "risk_factors", maxCount: 14,
                allowed: "an array of {risk_factor, indicators_present, trend, confidence, observation_ids}"
            ) { value, element -> RiskFactorAssessment? in
                guard
                    let fields = element.object(
                        value,
                        allowed: "an object {risk_factor, indicators_present, trend, confidence, observation_ids}")
                else { return nil }
                let factor = fields.term("risk_factor", RiskFactor.self, required: true)
                if let factor, let given = fields.fields["risk_factor"] {
                    if assessed.contains(factor) {
                        fields.fail("risk_factor", given, allowed: "each risk factor assessed once")
                    }
                    assessed.append(factor)
                }
                let indicators =
                    fields.list(
                        "indicators_present", maxCount: 100, allowed: "an array of indicators such as '7.6'"
                    ) { value, element -> String? in
                        guard
                            let text = element.code(
                                value, allowed: Indicator.allowed, { Indicator.riskFactor(of: $0) != nil })
                        else { return nil }
                        if let factor, Indicator.riskFactor(of: text) != factor {
                            element.fail(
                                value,
                                allowed:
                                    "an indicator of risk factor \(factor.rawValue), such as '\(factor.rawValue).1'")
                            return nil
                        }
                        return text
                    } ?? []
                let trend = fields.term("trend", Trend.self, required: true)
                let confidence = fields.term("confidence", Confidence.self, required: true)
                let observations = readDocumentIDs(fields, "observation_ids")
                guard let factor, let trend, let confidence else { return nil }
                return RiskFactorAssessment(
                    riskFactor: factor, indicatorsPresent: indicators, trend: trend, confidence: confidence,
                    observationIDs: observations)
            } ?? []
        let linked = readDocumentIDs(body, "linked_observations")
        let scenarios =
            body.list("scenarios", maxCount: 20, allowed: "an array of {name, description, likelihood}") {
                value, element -> Scenario? in
                guard let fields = element.object(value, allowed: "an object {name, description, likelihood}") else {
                    return nil
                }
                let name = fields.text("name", required: true)
                let description = fields.text("description", maxLength: 10_000)
                let likelihood = fields.term("likelihood", Confidence.self)
                guard let name else { return nil }
                return Scenario(name: name, description: description, likelihood: likelihood)
            } ?? []
        let options =
            body.list(
                "response_options", maxCount: 50, allowed: "an array of {action, by, timeframe}", ResponseOption.read)
            ?? []
        let level = body.term("overall_risk_level", Level.self, required: true)
        guard let title, let area, let start, let end, let level else { return nil }
        return Situation(
            schemaVersion: schemaVersion, title: title, area: area, periodStart: start, periodEnd: end,
            riskFactors: factors, linkedObservations: linked, scenarios: scenarios, responseOptions: options,
            overallRiskLevel: level)
    }

    /// Reads `area`: `{country, admin1?}`.
    static func readArea(_ body: FieldReader) -> Region? {
        guard let fields = body.object("area", required: true, allowed: "an object {country, admin1}") else {
            return nil
        }
        let country = fields.code("country", required: true, allowed: Region.countryRule, Region.isCountry)
        let admin1 = fields.code("admin1", allowed: Region.admin1Rule, Region.isSubdivision)
        if let country, let admin1, !admin1.hasPrefix(country + "-"), let value = fields.fields["admin1"] {
            fields.fail("admin1", value, allowed: "a subdivision code of '\(country)', such as '\(country)-XX'")
            return nil
        }
        guard let country else { return nil }
        if fields.fields["admin1"].map({ $0 != .null }) == true, admin1 == nil { return nil }
        return Region(country: country, admin1: admin1)
    }

    /// Reads an array of document ids, each once.
    static func readDocumentIDs(_ body: FieldReader, _ key: String) -> [String] {
        var ids: [String] = []
        for (value, element) in body.array(key, maxCount: 1_000, allowed: "an array of document ids") ?? [] {
            guard
                let id = element.code(
                    value, allowed: "a document id: 1 to 128 letters, digits, '.', '_', '-' or ':'",
                    { DocumentID($0) != nil })
            else { continue }
            if ids.contains(id) {
                element.fail(value, allowed: "each id listed once")
            } else {
                ids.append(id)
            }
        }
        return ids
    }
}
