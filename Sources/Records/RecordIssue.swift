public import SyncEngine

/// One broken rule in a record: which field, what it holds (never the text of a sensitive or
/// free-text field), and what is allowed there.
public struct RecordIssue: Sendable, Hashable, CustomStringConvertible {
    /// The field's path in the body, such as `location.admin1` or `actor1.inter`.
    public var path: String
    /// The value as shown to people: a code or number as given (cut to 40 characters),
    /// `(missing)`, `(sealed)` for sealed fields, or `(text, N characters)` for free text.
    public var value: String
    /// What the field accepts.
    public var allowed: String

    public init(path: String, value: String, allowed: String) {
        self.path = path
        self.value = value
        self.allowed = allowed
    }

    public var description: String { "\(path) is \(value == "(missing)" ? "missing" : value); allowed: \(allowed)" }
}

/// A record that breaks one or more rules of its kind; ``issues`` lists every one, in body order.
public struct RecordValidationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The collection whose rules the body breaks.
    public var collection: CollectionName
    /// Every broken rule, not just the first.
    public var issues: [RecordIssue]

    public init(collection: CollectionName, issues: [RecordIssue]) {
        self.collection = collection
        self.issues = issues
    }

    /// One line for people: `The observations record has 2 invalid fields: a is …; b is ….`
    public var description: String {
        let count = issues.count == 1 ? "1 invalid field" : "\(issues.count) invalid fields"
        return "The \(collection) record has \(count): " + issues.map(\.description).joined(separator: " | ") + "."
    }

    /// The same failure as a ``SyncEngineError`` with ``SyncEngineError/Code/invalidBody``, for
    /// the edges that map sync errors to exit codes and HTTP statuses.
    public var engineError: SyncEngineError { SyncEngineError(.invalidBody, description) }
}
