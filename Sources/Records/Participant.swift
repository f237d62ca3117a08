public import SyncEngine

/// A member organisation of the network (collection `participants`), its countries of operation,
/// and its focal points with their roles and contacts.
///
/// Participants form the network's directory, so they all sit in one partition, ``partition``.
public struct Participant: Sendable, Hashable {
    /// A person the network reaches the organisation through.
    public struct FocalPoint: Sendable, Hashable {
        public var name: String
        public var roles: [MemberRole]
        public var contacts: [Contact]
        /// The regions the person covers.
        public var regions: [Region]
    }

    /// One way to reach a focal point.
    public struct Contact: Sendable, Hashable {
        public var channel: ContactChannel
        public var value: String
    }

    /// The partition of every participant: `network`.
    public static let partition = Partition("network") ?? .default

    public var schemaVersion: Int
    public var name: String
    public var shortName: String?
    public var kind: ParticipantKind
    public var status: ParticipantStatus
    public var countries: [String]
    public var focalPoints: [FocalPoint]
}

extension Participant {
    static func read(_ body: FieldReader, schemaVersion: Int) -> Participant? {
        let name = body.text("name", required: true)
        let shortName = body.text("short_name", maxLength: 40)
        let kind = body.term("kind", ParticipantKind.self, required: true)
        let status = body.term("status", ParticipantStatus.self) ?? .active
        _ = body.date("joined_on")
        _ = body.date("left_on")
        if status == .left, body.fields["left_on"].map({ $0 != .null }) != true {
            body.log.add(
                body.path("left_on"), "(missing)",
                allowed: "the date the participant left, required when status is 'left'")
        }
        var countries: [String] = []
        let countryList =
            body.array(
                "countries", required: true, maxCount: 60, allowed: "an array of ISO 3166-1 alpha-2 country codes")
            ?? []
        for (value, element) in countryList {
            guard let code = element.code(value, allowed: Region.countryRule, Region.isCountry) else { continue }
            if countries.contains(code) {
                element.fail(value, allowed: "each country listed once")
            } else {
                countries.append(code)
            }
        }
        if body.fields["countries"]?.arrayValue?.isEmpty == true, let value = body.fields["countries"] {
            body.fail("countries", value, allowed: "at least one ISO 3166-1 alpha-2 country code")
        }
        let focalPoints =
            body.list(
                "focal_points", maxCount: 100, allowed: "an array of {name, roles, contacts, regions}", readFocalPoint)
            ?? []
        guard let name, let kind, !countries.isEmpty else { return nil }
        return Participant(
            schemaVersion: schemaVersion, name: name, shortName: shortName, kind: kind, status: status,
            countries: countries, focalPoints: focalPoints)
    }

    private static func readFocalPoint(_ value: JSONValue, _ element: ElementReader) -> FocalPoint? {
        guard let fields = element.object(value, allowed: "an object {name, roles, contacts, regions}") else {
            return nil
        }
        let name = fields.text("name", required: true)
        let roles =
            fields.list("roles", maxCount: 7, allowed: "an array of roles") { value, element in
                element.term(value, MemberRole.self)
            } ?? []
        let contacts =
            fields.list("contacts", maxCount: 20, allowed: "an array of {channel, value}") {
                value, element -> Contact? in
                guard let contact = element.object(value, allowed: "an object {channel, value}") else { return nil }
                let channel = contact.term("channel", ContactChannel.self, required: true)
                let text = contact.text("value", required: true)
                guard let channel, let text else { return nil }
                return Contact(channel: channel, value: text)
            } ?? []
        let regions =
            fields.list("regions", maxCount: 100, allowed: "an array of region codes such as 'SD' or 'SD-DN'") {
                value, element -> Region? in
                element.code(
                    value, allowed: "a region code: a country 'SD' or a subdivision 'SD-DN'", { Region($0) != nil }
                )
                .flatMap(Region.init)
            } ?? []
        guard let name else { return nil }
        return FocalPoint(name: name, roles: roles, contacts: contacts, regions: regions)
    }
}
