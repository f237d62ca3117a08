import Foundation
import SyncEngine
import Records
import TestSupport

/// Valid record bodies of every kind, and edits that break exactly one rule.
enum RecordsFixtures {
    static let informant = SampleRecords.informant
    static let observation = SampleRecords.observation
    static let situation = SampleRecords.situation
    static let warning = SampleRecords.warning
    static let participant = SampleRecords.participant

    static func body(_ kind: RecordKind) -> String {
        switch kind {
        case .observation: observation
        case .situation: situation
        case .warning: warning
        case .participant: participant
        }
    }

    /// `text` parsed, with `path` (dotted; `[n]` for array elements) set to `value` or removed when nil.
    static func edited(_ text: String, _ path: String, _ value: JSONValue?) throws -> Data {
        let parsed = try JSONValue(parsing: Data(text.utf8))
        let steps = path.split(separator: ".").map(String.init)
        return edit(parsed, steps[...], value).canonicalData
    }

    private static func edit(_ node: JSONValue, _ steps: ArraySlice<String>, _ value: JSONValue?) -> JSONValue {
        guard var step = steps.first else { return value ?? .null }
        var index: Int?
        if let open = step.firstIndex(of: "["), step.hasSuffix("]") {
            index = Int(step[step.index(after: open)..<step.index(before: step.endIndex)])
            step = String(step[..<open])
        }
        guard case .object(var fields) = node else { return node }
        if let index, case .array(var elements)? = fields[step] {
            if steps.count == 1, value == nil {
                elements.remove(at: index)
            } else {
                elements[index] = edit(elements[index], steps.dropFirst(), value)
            }
            fields[step] = .array(elements)
        } else if steps.count == 1 {
            fields[step] = value
        } else {
            fields[step] = edit(fields[step] ?? .object([:]), steps.dropFirst(), value)
        }
        return .object(fields)
    }
}
