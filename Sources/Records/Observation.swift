import SyncEngine

/// An incident report from the field (collection `observations`): what happened (ACLED's event
/// vocabulary), how it was reported (ECOWARN report kinds and sectors), why it matters (UN
/// Framework risk factors), where, and how its source is protected.
///
/// The sealed informant reference is checked but never kept here: only whether there is one.
/// So nothing built from an `Observation` (listings, exports) can reveal it.
public struct Observation: Sendable, Hashable {
    /// One side of the event: a named actor with ACLED's actor type code.
    public struct Actor: Sendable, Hashable {
        public var name: String
        public var type: ActorType
        /// Actors associated with this one (ACLED `assoc_actor`).
        public var associated: [String]
    }

    /// Deaths as reported: the number (ACLED's conservative count), the words the sources used,
    /// and whether the figure is disputed.
    public struct Fatalities: Sendable, Hashable {
        public var count: Int
        public var text: String?
        public var disputed: Bool
    }

    /// Where the event took place.
    public struct Location: Sendable, Hashable {
        public var region: Region
        public var admin1Name: String?
        public var admin2: String?
        public var admin3: String?
        public var place: String?
        public var latitude: Double?
        public var longitude: Double?
        public var accuracyMeters: Double?
        public var altitudeMeters: Double?
        public var geoPrecision: GeoPrecision?
    }

    /// How the source is protected. The informant reference itself is sealed: only its presence shows.
    public struct SourceProtection: Sendable, Hashable {
        public var informantAnonymous: Bool
        public var informantConsent: Bool?
        public var hasInformantReference: Bool
        /// Whether the reference is sealed to the network's informant key (false for one kept in
        /// clear by an older version of Vigil, or a device that had no informant key).
        public var informantReferenceIsSealed = false
    }

    public var schemaVersion: Int
    public var reportKind: ReportKind
    public var eventDate: CalendarDate
    public var timePrecision: TimePrecision
    public var eventType: EventType
    public var subEventType: SubEventType?
    public var actor1: Actor
    public var actor2: Actor?
    public var fatalities: Fatalities?
    public var location: Location
    public var thematicSector: ThematicSector?
    public var riskFactors: [RiskFactor]
    public var indicators: [String]
    public var crimeCategoryHint: CrimeCategoryHint?
    public var hateSpeechObserved: Bool?
    public var observationMode: ObservationMode
    public var sourceScale: SourceScale?
    public var sourceProtection: SourceProtection?
    public var notes: String?
    public var attachments: [AttachmentReference]

    /// The region (country and first administrative level): the observation's partition.
    public var region: Region { location.region }

    /// ACLED's interaction code of the two actors.
    public var interaction: Int { ActorType.interaction(actor1.type, actor2?.type) }

    /// How grave the event is, derived from the record (see Docs/DataModel.md):
    /// - critical: 10 or more deaths;
    /// - high: at least one death, violence against civilians, or a warning signal;
    /// - medium: battles, explosions/remote violence, riots, force used against protesters, or hate speech;
    /// - low: anything else.
    public var severity: Level {
        let deaths = fatalities?.count ?? 0
        if deaths >= 10 { return .critical }
        if deaths >= 1 || eventType == .violenceAgainstCivilians || reportKind == .warningSignal { return .high }
        if [.battles, .explosionsRemoteViolence, .riots].contains(eventType)
            || subEventType == .excessiveForceAgainstProtesters || subEventType == .protestWithIntervention
            || hateSpeechObserved == true
        {
            return .medium
        }
        return .low
    }
}

/// A file attached to a record by the SHA-256 of its bytes at capture (the file travels apart).
public struct AttachmentReference: Sendable, Hashable {
    /// 64 lowercase hexadecimal digits.
    public var sha256: String
    public var filename: String?
    public var mime: String?
    public var sizeBytes: Int?
    public var role: AttachmentRole?

    static func isDigest(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    static func read(_ value: JSONValue, _ element: ElementReader) -> AttachmentReference? {
        guard let fields = element.object(value, allowed: "an object {sha256, filename, mime, size_bytes, role}")
        else { return nil }
        let sha256 = fields.code(
            "sha256", required: true, allowed: "the file's SHA-256 as 64 lowercase hexadecimal digits", isDigest)
        let filename = fields.text("filename", maxLength: 255)
        let mime = fields.code("mime", allowed: "a media type such as 'image/jpeg'") { text in
            let parts = text.split(separator: "/", omittingEmptySubsequences: false)
            return parts.count == 2 && !parts[0].isEmpty && !parts[1].isEmpty && text.count <= 100
                && !text.contains(" ")
        }
        let size = fields.integer("size_bytes", in: 0...(1 << 50), allowed: "a whole number of bytes, 0 or more")
        let role = fields.term("role", AttachmentRole.self)
        guard let sha256 else { return nil }
        return AttachmentReference(sha256: sha256, filename: filename, mime: mime, sizeBytes: size, role: role)
    }
}

extension Observation {
    /// The sealed fields of an observation, as paths: never listed, exported or logged.
    public static let sealedPaths = ["source_protection.informant_ref"]

    /// Reads and checks an observation body's fields, logging every broken rule.
    static func read(_ body: FieldReader, schemaVersion: Int) -> Observation? {
        let reportKind = body.term("report_kind", ReportKind.self, required: true)
        let eventDate = body.date("event_date", required: true)
        let timePrecision = body.term("time_precision", TimePrecision.self) ?? .exactDate
        let eventType = body.term("event_type", EventType.self, required: true)
        let subEventType = body.term("sub_event_type", SubEventType.self)
        if let eventType, let subEventType, subEventType.eventType != eventType,
            let value = body.fields["sub_event_type"]
        {
            body.fail(
                "sub_event_type", value,
                allowed: "a sub-event type of '\(eventType.rawValue)': "
                    + eventType.subEventTypes.map { "'\($0.rawValue)'" }.joined(separator: ", "))
        }
        let actor1 = readActor(body, "actor1", required: true)
        let actor2 = readActor(body, "actor2", required: false)
        let fatalities = readFatalities(body)
        let location = readLocation(body)
        let thematicSector = body.term("thematic_sector", ThematicSector.self)
        let (riskFactors, indicators) = readRiskFactors(body)
        let hint = body.term("crime_category_hint", CrimeCategoryHint.self)
        let hateSpeech = body.bool("hate_speech_observed")
        let mode = body.term("observation_mode", ObservationMode.self, required: true)
        let sourceScale = body.term("source_scale", SourceScale.self)
        let protection = readSourceProtection(body)
        let notes = body.text("notes", maxLength: 20_000)
        let attachments =
            body.list(
                "attachments", maxCount: 50,
                allowed: "an array of attachments {sha256, filename, mime, size_bytes, role}",
                AttachmentReference.read) ?? []
        var seen = Set<String>()
        for (index, attachment) in attachments.enumerated() where !seen.insert(attachment.sha256).inserted {
            body.log.add(
                "attachments[\(index)].sha256", "'\(attachment.sha256.prefix(12))…'", allowed: "each file listed once")
        }
        guard let reportKind, let eventDate, let eventType, let actor1, let location, let mode else { return nil }
        return Observation(
            schemaVersion: schemaVersion, reportKind: reportKind, eventDate: eventDate, timePrecision: timePrecision,
            eventType: eventType, subEventType: subEventType, actor1: actor1, actor2: actor2, fatalities: fatalities,
            location: location, thematicSector: thematicSector, riskFactors: riskFactors, indicators: indicators,
            crimeCategoryHint: hint, hateSpeechObserved: hateSpeech, observationMode: mode, sourceScale: sourceScale,
            sourceProtection: protection, notes: notes, attachments: attachments)
    }

    private static func readActor(_ body: FieldReader, _ key: String, required: Bool) -> Actor? {
        guard let fields = body.object(key, required: required, allowed: "an object {name, inter, associated}")
        else { return nil }
        let name = fields.text("name", required: true)
        let type = fields.term("inter", ActorType.self, required: true)
        let associated =
            fields.list("associated", maxCount: 20, allowed: "an array of actor names") { value, element in
                element.text(value)
            } ?? []
        guard let name, let type else { return nil }
        return Actor(name: name, type: type, associated: associated)
    }

    private static func readFatalities(_ body: FieldReader) -> Fatalities? {
        guard let fields = body.object("fatalities", allowed: "an object {count, text, disputed}") else { return nil }
        let count = fields.integer(
            "count", required: true, in: 0...1_000_000,
            allowed: "a whole number of deaths, 0 or more (ACLED's conservative count)")
        let text = fields.text("text", maxLength: 200)
        let disputed = fields.bool("disputed") ?? false
        guard let count else { return nil }
        return Fatalities(count: count, text: text, disputed: disputed)
    }

    private static func readLocation(_ body: FieldReader) -> Location? {
        guard
            let fields = body.object(
                "location", required: true,
                allowed: "an object {country, admin1, place, latitude, longitude, geo_precision, …}")
        else { return nil }
        let country = fields.code("country", required: true, allowed: Region.countryRule, Region.isCountry)
        var admin1 = fields.code("admin1", required: true, allowed: Region.admin1Rule, Region.isSubdivision)
        if let country, let given = admin1, !given.hasPrefix(country + "-"), let value = fields.fields["admin1"] {
            fields.fail("admin1", value, allowed: "a subdivision code of '\(country)', such as '\(country)-XX'")
            admin1 = nil
        }
        let admin1Name = fields.text("admin1_name")
        let admin2 = fields.text("admin2")
        let admin3 = fields.text("admin3")
        let place = fields.text("place")
        let latitude = fields.number("latitude", in: -90...90, allowed: "decimal degrees from -90 to 90 (WGS 84)")
        let longitude = fields.number("longitude", in: -180...180, allowed: "decimal degrees from -180 to 180 (WGS 84)")
        let hasLatitude = fields.fields["latitude"].map { $0 != .null } ?? false
        let hasLongitude = fields.fields["longitude"].map { $0 != .null } ?? false
        if hasLatitude != hasLongitude {
            let missing = hasLatitude ? "longitude" : "latitude"
            fields.log.add(fields.path(missing), "(missing)", allowed: "latitude and longitude together, or neither")
        }
        let accuracy = fields.number("accuracy_m", in: 0...1_000_000, allowed: "metres, 0 or more")
        let altitude = fields.number("altitude_m", in: -500...9_000, allowed: "metres from -500 to 9000")
        let precision = fields.term("geo_precision", GeoPrecision.self, required: hasLatitude || hasLongitude)
        guard let country, let admin1, let region = Region(country: country, admin1: admin1) else { return nil }
        return Location(
            region: region, admin1Name: admin1Name, admin2: admin2, admin3: admin3, place: place, latitude: latitude,
            longitude: longitude, accuracyMeters: accuracy, altitudeMeters: altitude, geoPrecision: precision)
    }

    /// Reads `risk_factors` (1–14, each once) and `indicators` (each of a listed risk factor).
    static func readRiskFactors(_ body: FieldReader) -> ([RiskFactor], [String]) {
        var factors: [RiskFactor] = []
        for (value, element) in body.array(
            "risk_factors", maxCount: 14, allowed: "an array of risk factor numbers 1-14") ?? []
        {
            guard let factor = element.term(value, RiskFactor.self) else { continue }
            if factors.contains(factor) {
                element.fail(value, allowed: "each risk factor listed once")
            } else {
                factors.append(factor)
            }
        }
        var indicators: [String] = []
        for (value, element) in body.array("indicators", maxCount: 100, allowed: "an array of indicators such as '7.6'")
            ?? []
        {
            guard let text = element.code(value, allowed: Indicator.allowed, { Indicator.riskFactor(of: $0) != nil }),
                let factor = Indicator.riskFactor(of: text)
            else { continue }
            if !factors.contains(factor) {
                element.fail(
                    value, allowed: "an indicator of a risk factor listed in risk_factors (add \(factor.rawValue))")
            } else if indicators.contains(text) {
                element.fail(value, allowed: "each indicator listed once")
            } else {
                indicators.append(text)
            }
        }
        return (factors, indicators)
    }

    private static func readSourceProtection(_ body: FieldReader) -> SourceProtection? {
        guard
            let fields = body.object(
                "source_protection", allowed: "an object {informant_anonymous, informant_consent, informant_ref}")
        else { return nil }
        let anonymous = fields.bool("informant_anonymous", required: true)
        let consent = fields.bool("informant_consent")
        let reference: String?
        if case .string(let text)? = fields.fields["informant_ref"], text.hasPrefix(InformantSeal.prefix) {
            // Sealed to the network's informant key: only its shape can be checked here.
            reference = InformantSeal.isSealed(text) ? text : nil
            if reference == nil {
                fields.fail(
                    "informant_ref", .string(text), .sealed,
                    allowed: "a sealed reference ('\(InformantSeal.prefix)…', at most \(InformantSeal.maxSealedLength) characters)")
            }
        } else {
            reference = fields.text("informant_ref", maxLength: InformantSeal.maxCharacters, exposure: .sealed)
        }
        if reference != nil, consent != true {
            fields.log.add(
                fields.path("informant_consent"), consent == false ? "false" : "(missing)",
                allowed: "true when a sealed informant_ref is kept: the informant must have consented")
        }
        guard let anonymous else { return nil }
        return SourceProtection(
            informantAnonymous: anonymous, informantConsent: consent,
            hasInformantReference: fields.fields["informant_ref"].map { $0 != .null } ?? false,
            informantReferenceIsSealed: reference.map(InformantSeal.isSealed) ?? false)
    }
}
