public import SyncEngine

/// A closed list of values a record field accepts, with a label for people.
public protocol RecordVocabulary: RawRepresentable, CaseIterable, Sendable, Hashable
where RawValue: Sendable & Hashable {
    /// How the value reads for people (the raw value for text vocabularies).
    var label: String { get }
    /// The value `json` names, or nil when it names none.
    static func term(_ json: JSONValue) -> Self?
    /// Every allowed value, as an error message or a prompt shows them.
    static var allowedText: String { get }
    /// The value as it is written in a record body.
    var jsonValue: JSONValue { get }
}

extension RecordVocabulary where RawValue == String {
    public var label: String { rawValue }
    public var jsonValue: JSONValue { .string(rawValue) }
    public static func term(_ json: JSONValue) -> Self? { json.stringValue.flatMap(Self.init(rawValue:)) }
    public static var allowedText: String { "one of " + allCases.map { "'\($0.rawValue)'" }.joined(separator: ", ") }
}

extension RecordVocabulary where RawValue == Int {
    public static func term(_ json: JSONValue) -> Self? { json.integerValue.flatMap(Self.init(rawValue:)) }
    public var jsonValue: JSONValue { .number(Double(rawValue)) }
    public static var allowedText: String {
        "one of " + allCases.map { "\($0.rawValue) (\($0.label))" }.joined(separator: ", ")
    }
}
