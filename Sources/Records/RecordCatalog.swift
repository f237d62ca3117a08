public import Foundation
public import SyncEngine

/// The record kinds the network shares, each with its collection, rules, partition and merge policy.
public enum RecordKind: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case observation, situation, warning, participant

    /// The collection holding records of this kind.
    public var collection: CollectionName {
        CollectionName(known: collectionText)
    }

    var collectionText: String {
        switch self {
        case .observation: "observations"
        case .situation: "situations"
        case .warning: "warnings"
        case .participant: "participants"
        }
    }

    /// How concurrent versions of a record of this kind are reconciled.
    public var mergePolicy: MergePolicy {
        switch self {
        case .observation, .participant: .manual
        case .situation, .warning: .fieldwise
        }
    }

    /// The kind whose records `collection` holds; nil for free-JSON collections.
    public init?(collection: CollectionName) {
        guard let kind = Self.allCases.first(where: { $0.collectionText == collection.rawValue }) else { return nil }
        self = kind
    }

    public var description: String { rawValue }
}

/// What checking a body found: its record kind, schema version and the partition it implies.
public struct RecordCheck: Sendable, Hashable {
    public var collection: CollectionName
    /// Nil for a collection of free JSON.
    public var kind: RecordKind?
    /// The record's `schema_version`; nil for free JSON.
    public var schemaVersion: Int?
    /// The partition the record belongs in: the region for observations, situations and
    /// warnings, `network` for participants; nil for free JSON (the writer chooses).
    public var partition: Partition?

    public init(collection: CollectionName, kind: RecordKind?, schemaVersion: Int?, partition: Partition?) {
        self.collection = collection
        self.kind = kind
        self.schemaVersion = schemaVersion
        self.partition = partition
    }
}

/// A record of any kind, as read from a valid body.
public enum TypedRecord: Sendable, Hashable {
    case observation(Observation)
    case situation(Situation)
    case warning(EarlyWarning)
    case participant(Participant)

    /// The partition the record implies.
    public var partition: Partition {
        switch self {
        case .observation(let record): record.region.partition
        case .situation(let record): record.area.partition
        case .warning(let record): record.area.partition
        case .participant: Participant.partition
        }
    }

    public var schemaVersion: Int {
        switch self {
        case .observation(let record): record.schemaVersion
        case .situation(let record): record.schemaVersion
        case .warning(let record): record.schemaVersion
        case .participant(let record): record.schemaVersion
        }
    }
}

/// The one entry point that checks record bodies, used by local writes and by the hub's admission.
///
/// The body is checked as given and never rewritten: fields a kind does not know are kept.
public enum RecordCatalog {
    /// The schema version this build writes.
    public static let currentSchemaVersion = 1
    /// The oldest schema version this build still accepts: the current one and the one before.
    public static let oldestSchemaVersion = max(1, currentSchemaVersion - 1)

    /// Checks `body` against the rules of `collection`'s record kind and returns what it implies;
    /// collections of no known kind only need one JSON object. Throws ``SyncEngineError`` with
    /// ``SyncEngineError/Code/invalidBody`` naming every broken rule in one sentence.
    ///
    /// The body is parsed once: a well-formed object (``JSONScanner``) is checked from that parse;
    /// anything else takes `JSONBody.validate` and Foundation's decoder, which name what is wrong.
    public static func validate(
        collection: CollectionName, body: Data, maximumSize: Int = JSONBody.defaultMaximumSize
    ) throws -> RecordCheck {
        guard body.count <= maximumSize, case .object(let fields)? = JSONScanner.value(of: body) else {
            return try validateThroughFoundation(collection: collection, body: body, maximumSize: maximumSize)
        }
        return try check(collection: collection) { try read($0, fields: fields) }
    }

    /// ``validate(collection:body:maximumSize:)`` for a body the scanner leaves undecided.
    private static func validateThroughFoundation(
        collection: CollectionName, body: Data, maximumSize: Int
    ) throws -> RecordCheck {
        try JSONBody.validate(body, maximumSize: maximumSize)
        return try check(collection: collection) { try read($0, body: body) }
    }

    /// What `read` finds in a body of `collection`; a broken rule thrown as ``SyncEngineError``.
    private static func check(
        collection: CollectionName, _ read: (RecordKind) throws -> TypedRecord
    ) throws -> RecordCheck {
        guard let kind = RecordKind(collection: collection) else {
            return RecordCheck(collection: collection, kind: nil, schemaVersion: nil, partition: nil)
        }
        let record: TypedRecord
        do {
            record = try read(kind)
        } catch let error as RecordValidationError {
            throw error.engineError
        }
        return RecordCheck(
            collection: collection, kind: kind, schemaVersion: record.schemaVersion, partition: record.partition)
    }

    /// Every broken rule of `body` in `collection` (empty when it is valid or free JSON).
    public static func issues(collection: CollectionName, body: Data) -> [RecordIssue] {
        guard let kind = RecordKind(collection: collection) else { return [] }
        do {
            _ = try read(kind, body: body)
            return []
        } catch let error as RecordValidationError {
            return error.issues
        } catch {
            return [RecordIssue(path: "(body)", value: "(not one JSON object)", allowed: "one JSON object")]
        }
    }

    /// The typed record in `body`; throws ``RecordValidationError`` listing every broken rule, or
    /// ``SyncEngineError`` when the body is not one JSON object.
    public static func read(_ kind: RecordKind, body: Data) throws -> TypedRecord {
        guard case .object(let fields) = try JSONValue(parsing: body) else {
            throw SyncEngineError(
                .invalidBody, "The body is JSON but not an object; give one JSON object such as {\"title\": \"...\"}.")
        }
        return try read(kind, fields: fields)
    }

    /// ``read(_:body:)`` of a body already parsed into its top-level `fields`.
    static func read(_ kind: RecordKind, fields: [String: JSONValue]) throws -> TypedRecord {
        let log = IssueLog()
        let reader = FieldReader(fields, log: log)
        guard let version = schemaVersion(reader) else {
            throw RecordValidationError(collection: kind.collection, issues: log.issues)
        }
        let record: TypedRecord? =
            switch kind {
            case .observation: Observation.read(reader, schemaVersion: version).map(TypedRecord.observation)
            case .situation: Situation.read(reader, schemaVersion: version).map(TypedRecord.situation)
            case .warning: EarlyWarning.read(reader, schemaVersion: version).map(TypedRecord.warning)
            case .participant: Participant.read(reader, schemaVersion: version).map(TypedRecord.participant)
            }
        guard let record, log.issues.isEmpty else {
            throw RecordValidationError(collection: kind.collection, issues: log.issues)
        }
        return record
    }

    /// Reads `schema_version`; a newer one than this build knows stops the check there, since the
    /// rest of the body follows rules this build does not have.
    private static func schemaVersion(_ reader: FieldReader) -> Int? {
        let allowed = {
            "\(oldestSchemaVersion == currentSchemaVersion ? "\(currentSchemaVersion)" : "\(oldestSchemaVersion) or \(currentSchemaVersion)") (the schema versions this build reads)"
        }
        guard let value = reader.value("schema_version", required: true, allowed: allowed()) else { return nil }
        guard let version = value.integerValue else {
            reader.fail("schema_version", value, allowed: allowed())
            return nil
        }
        if version > currentSchemaVersion {
            reader.log.add(
                "schema_version", "\(version)",
                allowed:
                    "at most \(currentSchemaVersion): this record was written by a newer Vigil; upgrade this device to read it"
            )
            return nil
        }
        if version < oldestSchemaVersion {
            reader.fail("schema_version", value, allowed: allowed())
            return nil
        }
        return version
    }
}
