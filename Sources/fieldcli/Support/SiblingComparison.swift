import Foundation
import ReplicaStore
import SyncEngine

/// The siblings of a document field by field, for `fieldcli conflicts show`.
struct SiblingComparison {
    let document: StoredDocument
    /// Top-level fields whose values differ between siblings, sorted.
    let differingFields: [String]
    /// Every top-level field of any sibling, sorted.
    let fields: [String]
    private let objects: [[String: Any]?]

    init(_ document: StoredDocument) {
        self.document = document
        objects = document.siblings.map { sibling in
            sibling.shownBody.flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
        }
        differingFields = JSONBody.differingFields(among: document.siblings.map(\.shownBody))
        fields = Set(objects.flatMap { $0?.keys.map { $0 } ?? [] }).sorted()
    }

    /// `{field: [value of each sibling, null when absent]}`.
    var jsonFields: [String: Any] {
        Dictionary(uniqueKeysWithValues: fields.map { field in
            (field, objects.map { $0?[field] ?? NSNull() } as [Any])
        })
    }

    /// The siblings in columns, one row per field, differing rows marked `*`.
    func table(width: Int) -> String {
        let labels = ["version", "author", "time"] + fields
        let labelWidth = min(24, (labels.map(\.count).max() ?? 8)) + 2
        let columnWidth = max(12, (width - labelWidth - 2) / max(1, document.siblings.count) - 2)
        func row(_ mark: String, _ label: String, _ cells: [String], highlighted: Bool = false) -> String {
            let text = mark + " " + Rendering.padded(Rendering.truncated(label, to: labelWidth - 2), to: labelWidth)
                + cells.map { Rendering.padded(Rendering.truncated($0, to: columnWidth), to: columnWidth + 2) }
                .joined()
            let trimmed = String(text.reversed().drop(while: { $0 == " " }).reversed())
            return highlighted ? Console.highlight(trimmed) : trimmed
        }
        let siblings = document.siblings
        var lines = [
            "\(document.key) is in conflict: \(siblings.count) versions, partition \(document.partition)",
            "",
            row(" ", "version", siblings.map { Rendering.dot($0.dot) }),
            row(" ", "author", siblings.map { $0.dot.replica.short }),
            row(" ", "time", siblings.map { Rendering.time($0.timestamp) }),
        ]
        if siblings.contains(where: \.isTombstone) {
            lines.append(row("*", "deleted", siblings.map { $0.isTombstone ? "yes" : "no" }, highlighted: true))
        }
        for field in fields {
            let differs = differingFields.contains(field)
            let cells = objects.map { object in
                guard let object else { return "" }
                return object[field].map(JSONBody.canonicalText) ?? "(absent)"
            }
            lines.append(row(differs ? "*" : " ", field, cells, highlighted: differs))
        }
        lines.append("")
        lines.append(
            "* marks what differs. Resolve with: fieldcli conflicts resolve \(document.key.collection) \(document.key.id) --pick VERSION --reason TEXT (or --body/--file with merged JSON)")
        if !document.isConflicted {
            lines[0] = "\(document.key) is not in conflict; it has one version, partition \(document.partition)"
        }
        return lines.joined(separator: "\n")
    }
}
