import Foundation
import SyncEngine
import Records
import Testing

/// One broken rule: the edit that breaks it and the field path the issue must name.
struct BrokenRule: Sendable, CustomTestStringConvertible {
    var kind: RecordKind
    var path: String
    var value: JSONValue?
    var issuePath: String
    var testDescription: String { "\(kind) \(path) = \(value.map(\.canonicalText) ?? "(removed)")" }

    init(_ kind: RecordKind, _ path: String, _ value: JSONValue?, issue: String? = nil) {
        self.kind = kind
        self.path = path
        self.value = value
        self.issuePath = issue ?? path
    }
}

@Suite("Records validation")
struct RecordsValidationTests {
    @Test(arguments: RecordKind.allCases)
    func validRecordsPassAndImplyTheirPartition(_ kind: RecordKind) throws {
        let check = try RecordCatalog.validate(collection: kind.collection, body: Data(RecordsFixtures.body(kind).utf8))
        #expect(check.kind == kind)
        #expect(check.schemaVersion == 1)
        #expect(check.partition?.rawValue == (kind == .participant ? "network" : "SD-DN"))
    }

    @Test func aCountryWideSituationSitsInTheCountryPartition() throws {
        let body = try RecordsFixtures.edited(RecordsFixtures.situation, "area.admin1", nil)
        #expect(
            try RecordCatalog.validate(collection: RecordKind.situation.collection, body: body).partition?.rawValue
                == "SD")
    }

    @Test func minimalObservationPasses() throws {
        let body = #"""
            {"schema_version": 1, "report_kind": "rumour", "event_date": "2026-02-29", "event_type": "Riots",
             "actor1": {"name": "Rioters (Sudan)", "inter": 5}, "location": {"country": "SD", "admin1": "SD-KH"},
             "observation_mode": "social_media"}
            """#
        let issues = RecordCatalog.issues(collection: RecordKind.observation.collection, body: Data(body.utf8))
        // 2026 is not a leap year.
        #expect(issues.map(\.path) == ["event_date"])
        let fixed = body.replacingOccurrences(of: "2026-02-29", with: "2024-02-29")
        let record = try RecordCatalog.read(.observation, body: Data(fixed.utf8))
        guard case .observation(let observation) = record else {
            Issue.record("not an observation")
            return
        }
        #expect(observation.timePrecision == .exactDate)
        #expect(observation.region.description == "SD-KH")
        #expect(observation.severity == .medium)
    }

    static let brokenRules: [BrokenRule] = [
        // Common: schema version.
        BrokenRule(.observation, "schema_version", nil),
        BrokenRule(.observation, "schema_version", .string("1")),
        BrokenRule(.observation, "schema_version", .number(0)),
        BrokenRule(.situation, "schema_version", .number(1.5)),
        // Observations.
        BrokenRule(.observation, "report_kind", .string("gossip")),
        BrokenRule(.observation, "report_kind", nil),
        BrokenRule(.observation, "event_date", .string("01/03/2026")),
        BrokenRule(.observation, "event_date", .string("2026-13-01")),
        BrokenRule(.observation, "event_date", nil),
        BrokenRule(.observation, "time_precision", .number(4)),
        BrokenRule(.observation, "event_type", .string("Battle")),
        BrokenRule(.observation, "event_type", nil),
        BrokenRule(.observation, "sub_event_type", .string("Looting")),
        BrokenRule(.observation, "sub_event_type", .string("Armed clash")),
        BrokenRule(.observation, "actor1", nil),
        BrokenRule(.observation, "actor1", .string("militia")),
        BrokenRule(.observation, "actor1.name", .string("  ")),
        BrokenRule(.observation, "actor1.inter", .number(9)),
        BrokenRule(.observation, "actor1.inter", nil),
        BrokenRule(.observation, "actor2.inter", .string("7")),
        BrokenRule(.observation, "actor1.associated", .string("x")),
        BrokenRule(.observation, "actor1.associated[0]", .number(3)),
        BrokenRule(.observation, "fatalities.count", .number(-1)),
        BrokenRule(.observation, "fatalities.count", .number(2.5)),
        BrokenRule(.observation, "fatalities.count", nil),
        BrokenRule(.observation, "fatalities.disputed", .string("yes")),
        BrokenRule(.observation, "fatalities.text", .string(String(repeating: "x", count: 201))),
        BrokenRule(.observation, "location", nil),
        BrokenRule(.observation, "location.country", .string("Sudan")),
        BrokenRule(.observation, "location.country", .string("sd")),
        BrokenRule(.observation, "location.admin1", .string("DN")),
        BrokenRule(.observation, "location.admin1", .string("TD-OD")),
        BrokenRule(.observation, "location.admin1", nil),
        BrokenRule(.observation, "location.latitude", .number(91)),
        BrokenRule(.observation, "location.longitude", .number(-181)),
        BrokenRule(.observation, "location.longitude", nil),
        BrokenRule(.observation, "location.geo_precision", .number(0)),
        BrokenRule(.observation, "location.geo_precision", nil),
        BrokenRule(.observation, "location.accuracy_m", .number(-5)),
        BrokenRule(.observation, "location.altitude_m", .number(10_000)),
        BrokenRule(.observation, "location.place", .number(1)),
        BrokenRule(.observation, "thematic_sector", .string("security")),
        BrokenRule(.observation, "risk_factors[0]", .number(15)),
        BrokenRule(.observation, "risk_factors[1]", .number(1)),
        BrokenRule(.observation, "risk_factors", .string("7")),
        BrokenRule(.observation, "indicators[0]", .string("7")),
        BrokenRule(.observation, "indicators[0]", .string("15.1")),
        BrokenRule(.observation, "indicators[0]", .string("8.7")),
        BrokenRule(.observation, "indicators[1]", .string("7.6")),
        BrokenRule(.observation, "crime_category_hint", .string("ethnic_cleansing")),
        BrokenRule(.observation, "hate_speech_observed", .number(1)),
        BrokenRule(.observation, "observation_mode", .string("hearsay")),
        BrokenRule(.observation, "observation_mode", nil),
        BrokenRule(.observation, "source_scale", .string("global")),
        BrokenRule(.observation, "source_protection.informant_anonymous", nil),
        BrokenRule(.observation, "source_protection.informant_consent", .bool(false)),
        BrokenRule(.observation, "source_protection.informant_consent", nil),
        BrokenRule(.observation, "source_protection.informant_ref", .number(7)),
        BrokenRule(.observation, "notes", .string("")),
        BrokenRule(.observation, "attachments[0].sha256", .string("9F86D081")),
        BrokenRule(.observation, "attachments[0].sha256", nil),
        BrokenRule(.observation, "attachments[0].mime", .string("jpeg")),
        BrokenRule(.observation, "attachments[0].size_bytes", .number(-1)),
        BrokenRule(.observation, "attachments[0].role", .string("copy")),
        BrokenRule(.observation, "attachments[0]", .string("market.jpg")),
        // Situations.
        BrokenRule(.situation, "title", nil),
        BrokenRule(.situation, "area", nil),
        BrokenRule(.situation, "area.country", .string("XXX")),
        BrokenRule(.situation, "area.admin1", .string("TD-OD")),
        BrokenRule(.situation, "period_start", .string("March")),
        BrokenRule(.situation, "period_end", .string("2026-02-01")),
        BrokenRule(.situation, "dynamic_analysis", .bool(true)),
        BrokenRule(.situation, "risk_factors[0].risk_factor", .number(0)),
        BrokenRule(.situation, "risk_factors[1].risk_factor", .number(7)),
        BrokenRule(.situation, "risk_factors[0].indicators_present[0]", .string("8.1")),
        BrokenRule(.situation, "risk_factors[0].trend", .string("worse")),
        BrokenRule(.situation, "risk_factors[0].confidence", nil),
        BrokenRule(.situation, "risk_factors[0].observation_ids[0]", .string("not an id")),
        BrokenRule(.situation, "risk_factors[0].observation_ids[1]", .string("obs-1")),
        BrokenRule(.situation, "linked_observations", .string("obs-1")),
        BrokenRule(.situation, "scenarios[0].name", nil),
        BrokenRule(.situation, "scenarios[0].likelihood", .string("certain")),
        BrokenRule(.situation, "response_options[0].action", nil),
        BrokenRule(.situation, "overall_risk_level", .string("extreme")),
        BrokenRule(.situation, "overall_risk_level", nil),
        // Warnings.
        BrokenRule(.warning, "title", nil),
        BrokenRule(.warning, "area.country", nil),
        BrokenRule(.warning, "status", .string("sent")),
        BrokenRule(.warning, "urgency", .string("asap")),
        BrokenRule(.warning, "severity", .string("high")),
        BrokenRule(.warning, "issued_at", nil),
        BrokenRule(.warning, "issued_at", .string("2026-03-02 06:00")),
        BrokenRule(.warning, "expires_at", .string("2026-03-09T25:00:00Z")),
        BrokenRule(.warning, "situation_id", .string("a b")),
        BrokenRule(.warning, "evidence[0]", .number(1)),
        BrokenRule(.warning, "indicators[0]", .string("9.1")),
        BrokenRule(.warning, "product_type", .string("tweet")),
        BrokenRule(.warning, "recommended_responses[0].action", .string("")),
        BrokenRule(.warning, "recipients", .array([])),
        BrokenRule(.warning, "recipients", nil, issue: "status"),
        BrokenRule(.warning, "recipients.ngo-a.acknowledged_at", nil),
        BrokenRule(.warning, "recipients.ngo-a.acknowledged_at", .string("yesterday")),
        BrokenRule(.warning, "recipients.ngo-a.response.at", nil),
        BrokenRule(.warning, "recipients.ngo-a.response.action_taken", nil),
        BrokenRule(.warning, "recipients.un-ocha", .string("yes")),
        // Participants.
        BrokenRule(.participant, "name", nil),
        BrokenRule(.participant, "short_name", .string(String(repeating: "W", count: 41))),
        BrokenRule(.participant, "kind", .string("company")),
        BrokenRule(.participant, "status", .string("gone")),
        BrokenRule(.participant, "status", .string("left"), issue: "left_on"),
        BrokenRule(.participant, "joined_on", .string("2020")),
        BrokenRule(.participant, "countries", nil),
        BrokenRule(.participant, "countries", .array([])),
        BrokenRule(.participant, "countries[0]", .string("Ghana")),
        BrokenRule(.participant, "countries[1]", .string("GH")),
        BrokenRule(.participant, "focal_points[0].name", nil),
        BrokenRule(.participant, "focal_points[0].roles[0]", .string("boss")),
        BrokenRule(.participant, "focal_points[0].contacts[0].channel", .string("pigeon")),
        BrokenRule(.participant, "focal_points[0].contacts[0].value", nil),
        BrokenRule(.participant, "focal_points[0].regions[1]", .string("SD-")),
    ]

    @Test(arguments: brokenRules)
    func everyRuleHasAFailingCase(_ rule: BrokenRule) throws {
        let body = try RecordsFixtures.edited(RecordsFixtures.body(rule.kind), rule.path, rule.value)
        let issues = RecordCatalog.issues(collection: rule.kind.collection, body: body)
        #expect(issues.map(\.path).contains(rule.issuePath), "\(issues)")
        let error = #expect(throws: SyncEngineError.self) {
            try RecordCatalog.validate(collection: rule.kind.collection, body: body)
        }
        #expect(error?.code == .invalidBody)
        #expect(error?.message.contains(rule.issuePath) == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("allowed") == true)
    }

    /// Replays a review's finding: an observation giving `fatalities` twice (40 first, 0 last),
    /// and bodies in UTF-16 or behind a byte-order mark. Foundation reads all of them, the two
    /// parsers keeping different values of a twice-given key: the hub admitted the record, its
    /// lists showed 40 and its conflict view and merges 0. Each is refused as not one JSON object
    /// in UTF-8 with each key once, whatever the collection.
    @Test func aKeyGivenTwiceOrABodyNotInUTF8IsRefused() throws {
        let observation = RecordsFixtures.observation
        let twice = observation.replacingOccurrences(
            of: #""schema_version": 1,"#, with: #""schema_version": 1, "fatalities": {"count": 40},"#)
        #expect(twice != observation)
        let notes = try #require(CollectionName("notes"))
        var bodies: [(CollectionName, Data)] = [
            (RecordKind.observation.collection, Data(twice.utf8)),
            (notes, Data(#"{"title":"a","title":"b"}"#.utf8)),
            (notes, Data(#"{"a":{"k":1,"k":2}}"#.utf8)),
            (notes, Data([0xEF, 0xBB, 0xBF]) + Data(#"{"title":"a"}"#.utf8)),
        ]
        if let utf16 = #"{"title":"a"}"#.data(using: .utf16LittleEndian) { bodies.append((notes, utf16)) }
        for (collection, body) in bodies {
            let error = #expect(throws: SyncEngineError.self, "\(String(decoding: body, as: UTF8.self))") {
                try RecordCatalog.validate(collection: collection, body: body)
            }
            #expect(error?.code == .invalidBody)
        }
        // The same key in different objects is no duplicate.
        _ = try RecordCatalog.validate(collection: notes, body: Data(#"{"a":{"k":1},"b":{"k":2}}"#.utf8))
    }

    @Test func everyIssueIsCollectedNotJustTheFirst() throws {
        var body = try RecordsFixtures.edited(RecordsFixtures.observation, "event_type", .string("Battle"))
        body = try RecordsFixtures.edited(String(decoding: body, as: UTF8.self), "fatalities.count", .number(-3))
        body = try RecordsFixtures.edited(String(decoding: body, as: UTF8.self), "location.latitude", .number(100))
        let issues = RecordCatalog.issues(collection: RecordKind.observation.collection, body: body)
        #expect(issues.map(\.path) == ["event_type", "fatalities.count", "location.latitude"])
        #expect(issues[0].value == "'Battle'")
        #expect(issues[0].allowed.contains("'Violence against civilians'"))
        #expect(issues[1].value == "-3")
        let error = #expect(throws: SyncEngineError.self) {
            try RecordCatalog.validate(collection: RecordKind.observation.collection, body: body)
        }
        #expect(
            error?.message.hasPrefix("The observations record has 3 invalid fields: event_type is 'Battle'") == true)
        #expect(error?.message.contains("\n") == false)
    }

    @Test func sensitiveAndFreeTextValuesAreNeverQuoted() throws {
        var body = try RecordsFixtures.edited(
            RecordsFixtures.observation, "source_protection.informant_consent", .bool(false))
        body = try RecordsFixtures.edited(
            String(decoding: body, as: UTF8.self), "source_protection.informant_ref",
            .string(String(repeating: "Imam Y. ", count: 100)))
        body = try RecordsFixtures.edited(
            String(decoding: body, as: UTF8.self), "notes", .string(String(repeating: "n", count: 20_001)))
        body = try RecordsFixtures.edited(
            String(decoding: body, as: UTF8.self), "actor1.name", .string(String(repeating: "Abu ", count: 60)))
        let issues = RecordCatalog.issues(collection: RecordKind.observation.collection, body: body)
        let sealed = issues.first { $0.path == "source_protection.informant_ref" }
        #expect(sealed?.value == "(sealed)")
        #expect(issues.first { $0.path == "notes" }?.value == "(text, 20001 characters)")
        #expect(issues.first { $0.path == "actor1.name" }?.value == "(text, 240 characters)")
        let error = #expect(throws: SyncEngineError.self) {
            try RecordCatalog.validate(collection: RecordKind.observation.collection, body: body)
        }
        #expect(error?.message.contains("Imam") == false)
        #expect(error?.message.contains("Abu") == false)
        #expect(error?.message.contains("nnnn") == false)
    }

    @Test func aValidationErrorNeverQuotesAValidSealedReference() throws {
        let body = try RecordsFixtures.edited(RecordsFixtures.observation, "event_type", .string("Battle"))
        let error = #expect(throws: SyncEngineError.self) {
            try RecordCatalog.validate(collection: RecordKind.observation.collection, body: body)
        }
        #expect(error?.message.contains("Imam") == false)
    }

    @Test func aNewerSchemaVersionIsRefusedWithOneClearIssue() throws {
        var body = try RecordsFixtures.edited(RecordsFixtures.observation, "schema_version", .number(2))
        body = try RecordsFixtures.edited(String(decoding: body, as: UTF8.self), "event_type", .string("Something new"))
        let issues = RecordCatalog.issues(collection: RecordKind.observation.collection, body: body)
        #expect(issues.count == 1)
        #expect(issues.first?.path == "schema_version")
        #expect(issues.first?.allowed.contains("newer Vigil") == true)
    }

    @Test func theSchemaVersionWindowIsCurrentAndPrevious() {
        #expect(RecordCatalog.oldestSchemaVersion == max(1, RecordCatalog.currentSchemaVersion - 1))
    }

    @Test(arguments: RecordKind.allCases)
    func unknownFieldsAreKeptAndTheBodyIsNotRewritten(_ kind: RecordKind) throws {
        let text = RecordsFixtures.body(kind).replacingOccurrences(
            of: "\"schema_version\": 1,", with: "\"schema_version\": 1,  \"x_extension\": {\"z\": [1, 2.50]}, ")
        let body = Data(text.utf8)
        _ = try RecordCatalog.validate(collection: kind.collection, body: body)
        // Validation reads the bytes as given: nothing to compare but that it returned; the
        // caller stores `body` itself, whose unknown field is still there.
        #expect(String(decoding: body, as: UTF8.self).contains("\"x_extension\": {\"z\": [1, 2.50]}"))
    }

    @Test func freeJSONCollectionsKeepTheirRules() throws {
        let reports = try #require(CollectionName("reports"))
        let check = try RecordCatalog.validate(collection: reports, body: Data(#"{"title": "anything"}"#.utf8))
        #expect(check.kind == nil && check.partition == nil)
        #expect(throws: SyncEngineError.self) {
            try RecordCatalog.validate(collection: reports, body: Data("[1]".utf8))
        }
        #expect(throws: SyncEngineError.self) {
            try RecordCatalog.validate(collection: RecordKind.warning.collection, body: Data("not json".utf8))
        }
    }

    @Test func vocabulariesMatchTheirSources() {
        #expect(EventType.allCases.count == 6)
        #expect(SubEventType.allCases.count == 25)
        #expect(EventType.allCases.flatMap(\.subEventTypes).count == 25)
        #expect(ActorType.allCases.map(\.rawValue) == Array(1...8))
        #expect(RiskFactor.allCases.map(\.rawValue) == Array(1...14))
        #expect(ThematicSector.allCases.count == 5)
        #expect(ActorType.interaction(.civilians, .stateForces) == 17)
        #expect(ActorType.interaction(.protesters, nil) == 60)
    }

    @Test func observationSeverityFollowsTheDocumentedRule() throws {
        func severity(_ edits: [(String, JSONValue?)]) throws -> Level {
            var text = RecordsFixtures.observation
            for (path, value) in edits {
                text = String(decoding: try RecordsFixtures.edited(text, path, value), as: UTF8.self)
            }
            guard case .observation(let record) = try RecordCatalog.read(.observation, body: Data(text.utf8)) else {
                throw SyncEngineError(.invalidBody, "not an observation")
            }
            return record.severity
        }
        #expect(try severity([]) == .critical)
        #expect(try severity([("fatalities.count", .number(1))]) == .high)
        #expect(try severity([("fatalities", nil)]) == .high)
        let protest: [(String, JSONValue?)] = [
            ("fatalities", nil), ("event_type", .string("Protests")), ("sub_event_type", .string("Peaceful protest")),
            ("hate_speech_observed", .bool(false)),
        ]
        #expect(try severity(protest) == .low)
        #expect(try severity(protest + [("report_kind", .string("warning_signal"))]) == .high)
        #expect(try severity(protest + [("sub_event_type", .string("Excessive force against protesters"))]) == .medium)
    }

    @Test func sealedFieldsAreRedactedForDisplay() throws {
        let body = Data(RecordsFixtures.observation.utf8)
        let redacted = try #require(SealedFields.redacted(body, in: RecordKind.observation.collection))
        let text = String(decoding: redacted, as: UTF8.self)
        #expect(!text.contains("Imam"))
        #expect(text.contains("\"informant_ref\":\"(sealed)\""))
        #expect(text.contains("custom_tag"))
        let situation = Data(RecordsFixtures.situation.utf8)
        #expect(SealedFields.redacted(situation, in: RecordKind.situation.collection) == situation)
        #expect(SealedFields.redacted(nil, in: RecordKind.observation.collection) == nil)
    }

    @Test func regionsParseAndContain() throws {
        let region = try #require(Region("SD-DN"))
        #expect(region.country == "SD" && region.admin1 == "SD-DN" && region.partition.rawValue == "SD-DN")
        #expect(Region("SD")?.contains(region) == true)
        #expect(Region("SD-") == nil)
        #expect(Region("sd-dn") == nil)
        #expect(Region("SD-ABCD") == nil)
    }
}
