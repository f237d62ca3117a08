import Foundation
import SyncEngine

/// Collects the issues of one body while its fields are read.
final class IssueLog {
    private(set) var issues: [RecordIssue] = []

    func add(_ path: String, _ value: String, allowed: String) {
        issues.append(RecordIssue(path: path, value: value, allowed: allowed))
    }
}

/// How a field's value may be shown in an issue.
enum Exposure {
    /// A code, number, date or identifier: shown as given, cut to 40 characters.
    case shown
    /// Free text (names, places, analysis): shown as its length only.
    case text
    /// A sealed field: shown as `(sealed)`.
    case sealed
}

/// Reads the fields of one JSON object, checking each against its rule and logging what breaks.
struct FieldReader {
    let fields: [String: JSONValue]
    let prefix: String
    let log: IssueLog

    init(_ fields: [String: JSONValue], prefix: String = "", log: IssueLog) {
        self.fields = fields
        self.prefix = prefix
        self.log = log
    }

    func path(_ key: String) -> String { prefix.isEmpty ? key : "\(prefix).\(key)" }

    /// The value of `key`; logs "missing" when required and absent (null counts as absent).
    func value(_ key: String, required: Bool, allowed: @autoclosure () -> String) -> JSONValue? {
        guard let value = fields[key], value != .null else {
            if required { log.add(path(key), "(missing)", allowed: allowed()) }
            return nil
        }
        return value
    }

    func fail(_ key: String, _ value: JSONValue, _ exposure: Exposure = .shown, allowed: String) {
        log.add(path(key), Self.show(value, exposure), allowed: allowed)
    }

    static func show(_ value: JSONValue, _ exposure: Exposure) -> String {
        switch exposure {
        case .sealed: return "(sealed)"
        case .text:
            if case .string(let text) = value { return "(text, \(text.count) characters)" }
            return "(\(kind(of: value)))"
        case .shown:
            switch value {
            case .string(let text):
                let shown = text.count > 40 ? String(text.prefix(39)) + "…" : text
                return "'\(shown)'"
            case .number(let number): return JSONValue.numberText(number)
            case .bool(let flag): return flag ? "true" : "false"
            default: return "(\(kind(of: value)))"
            }
        }
    }

    static func kind(of value: JSONValue) -> String {
        switch value {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }

    // MARK: Typed reads

    /// A string of 1 to `maxLength` characters.
    func text(_ key: String, required: Bool = false, maxLength: Int = 200, exposure: Exposure = .text) -> String? {
        let allowed = { "text of 1 to \(maxLength) characters" }
        guard let value = value(key, required: required, allowed: allowed()) else { return nil }
        guard case .string(let text) = value, !text.isBlank,
            text.hasAtMost(maxLength)
        else {
            fail(key, value, exposure, allowed: allowed())
            return nil
        }
        return text
    }

    /// A string that matches `rule`, described by `allowed`.
    func code(_ key: String, required: Bool = false, allowed: String, _ rule: (String) -> Bool) -> String? {
        guard let value = value(key, required: required, allowed: allowed) else { return nil }
        guard case .string(let text) = value, rule(text) else {
            fail(key, value, allowed: allowed)
            return nil
        }
        return text
    }

    /// One of a vocabulary's values.
    func term<Term: RecordVocabulary>(_ key: String, _ type: Term.Type, required: Bool = false) -> Term? {
        guard let value = value(key, required: required, allowed: Term.allowedText) else { return nil }
        guard let term = Term.term(value) else {
            fail(key, value, allowed: Term.allowedText)
            return nil
        }
        return term
    }

    /// A whole number in `range`.
    func integer(_ key: String, required: Bool = false, in range: ClosedRange<Int>, allowed: String? = nil) -> Int? {
        let allowed = { allowed ?? "a whole number from \(range.lowerBound) to \(range.upperBound)" }
        guard let value = value(key, required: required, allowed: allowed()) else { return nil }
        guard let number = value.integerValue, range.contains(number) else {
            fail(key, value, allowed: allowed())
            return nil
        }
        return number
    }

    /// A number in `range`.
    func number(_ key: String, required: Bool = false, in range: ClosedRange<Double>, allowed: String) -> Double? {
        guard let value = value(key, required: required, allowed: allowed) else { return nil }
        guard let number = value.numberValue, range.contains(number) else {
            fail(key, value, allowed: allowed)
            return nil
        }
        return number
    }

    func bool(_ key: String, required: Bool = false) -> Bool? {
        guard let value = value(key, required: required, allowed: "true or false") else { return nil }
        guard let flag = value.boolValue else {
            fail(key, value, allowed: "true or false")
            return nil
        }
        return flag
    }

    /// A calendar date `YYYY-MM-DD`.
    func date(_ key: String, required: Bool = false) -> CalendarDate? {
        let allowed = "a calendar date YYYY-MM-DD"
        guard let value = value(key, required: required, allowed: allowed) else { return nil }
        guard case .string(let text) = value, let date = CalendarDate(text) else {
            fail(key, value, allowed: allowed)
            return nil
        }
        return date
    }

    /// A UTC or offset time in ISO 8601, such as `2026-03-01T14:05:00Z`.
    func timestamp(_ key: String, required: Bool = false) -> String? {
        code(key, required: required, allowed: "an ISO 8601 time such as 2026-03-01T14:05:00Z", Timestamp.isValid)
    }

    /// A nested object, read by a reader of its own.
    func object(_ key: String, required: Bool = false, allowed: String) -> FieldReader? {
        guard let value = value(key, required: required, allowed: allowed) else { return nil }
        guard case .object(let fields) = value else {
            fail(key, value, allowed: allowed)
            return nil
        }
        return FieldReader(fields, prefix: path(key), log: log)
    }

    /// An array of at most `maxCount` elements, each with its own path (`key[0]`, `key[1]`…).
    func array(_ key: String, required: Bool = false, maxCount: Int = 100, allowed: String) -> [(
        JSONValue, ElementReader
    )]? {
        guard let value = value(key, required: required, allowed: allowed) else { return nil }
        guard case .array(let elements) = value, elements.count <= maxCount else {
            fail(key, value, allowed: "\(allowed) (at most \(maxCount))")
            return nil
        }
        return elements.enumerated().map { index, element in
            (element, ElementReader(path: "\(path(key))[\(index)]", log: log))
        }
    }

    /// An array whose elements are all checked by `element`; nil elements are left out.
    func list<Element>(
        _ key: String, required: Bool = false, maxCount: Int = 100, allowed: String,
        _ element: (JSONValue, ElementReader) -> Element?
    ) -> [Element]? {
        guard let elements = array(key, required: required, maxCount: maxCount, allowed: allowed) else { return nil }
        return elements.compactMap { element($0.0, $0.1) }
    }
}

/// Checks one element of an array, logging under its indexed path.
struct ElementReader {
    let path: String
    let log: IssueLog

    func fail(_ value: JSONValue, _ exposure: Exposure = .shown, allowed: String) {
        log.add(path, FieldReader.show(value, exposure), allowed: allowed)
    }

    /// The element as an object reader.
    func object(_ value: JSONValue, allowed: String) -> FieldReader? {
        guard case .object(let fields) = value else {
            fail(value, allowed: allowed)
            return nil
        }
        return FieldReader(fields, prefix: path, log: log)
    }

    func term<Term: RecordVocabulary>(_ value: JSONValue, _ type: Term.Type) -> Term? {
        guard let term = Term.term(value) else {
            fail(value, allowed: Term.allowedText)
            return nil
        }
        return term
    }

    func code(_ value: JSONValue, allowed: String, _ rule: (String) -> Bool) -> String? {
        guard case .string(let text) = value, rule(text) else {
            fail(value, allowed: allowed)
            return nil
        }
        return text
    }

    func text(_ value: JSONValue, maxLength: Int = 200) -> String? {
        guard case .string(let text) = value, !text.isBlank,
            text.hasAtMost(maxLength)
        else {
            fail(value, .text, allowed: "text of 1 to \(maxLength) characters")
            return nil
        }
        return text
    }
}

extension String {
    /// Whether the text is empty or only white space and line breaks: what trimming
    /// `.whitespacesAndNewlines` leaves empty, without Foundation's slow path (that set is
    /// Unicode's White_Space and U+200B, checked over every scalar).
    fileprivate var isBlank: Bool { unicodeScalars.allSatisfy { $0.properties.isWhitespace || $0 == "\u{200B}" } }

    /// Whether the text has at most `limit` characters, without counting its characters (which
    /// means finding every grapheme break) when its UTF-8 length already says so.
    fileprivate func hasAtMost(_ limit: Int) -> Bool { utf8.count <= limit || count <= limit }
}
