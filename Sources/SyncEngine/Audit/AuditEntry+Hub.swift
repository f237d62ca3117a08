import Foundation

extension AuditEntry {
    /// Who an audit entry names when an operator acted on the hub machine.
    public static let operatorActor = "operator"
    /// Who an audit entry names when the hub acted by itself (a field-by-field merge).
    public static let hubActor = "hub"

    /// The detail as stored: a JSON object with sorted keys (the SQLite and the PostgreSQL hub's
    /// logs store it so).
    package static func detailText(_ detail: [String: String]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(detail), as: UTF8.self)
    }
}
