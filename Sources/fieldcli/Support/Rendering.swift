import Foundation
import ReplicaStore
import SyncEngine
import Records

/// The readable default output: times, dots, bodies and documents as text for people.
enum Rendering {
    /// The wall-clock part of a hybrid timestamp in ISO-8601 UTC, to the millisecond.
    static func time(_ timestamp: HybridTimestamp) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date(timeIntervalSince1970: Double(timestamp.wallMilliseconds) / 1000))
    }

    /// `abcd1234:7`: the replica's short id and the counter, accepted back by `--pick`.
    static func dot(_ dot: Dot) -> String { "\(dot.replica.short):\(dot.counter)" }

    /// A body pretty-printed with sorted keys, or `(deleted)` for a tombstone.
    static func body(_ data: Data?) -> String {
        guard let data else { return "(deleted)" }
        guard let object = try? JSONSerialization.jsonObject(with: data),
            let pretty = try? JSONSerialization.data(
                withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        else { return String(decoding: data, as: UTF8.self) }
        return String(decoding: pretty, as: UTF8.self)
    }

    /// A body on one line, cut to `width` characters.
    static func preview(_ data: Data?, width: Int) -> String {
        guard let data else { return "(deleted)" }
        let text: String
        if let object = try? JSONSerialization.jsonObject(with: data),
            let compact = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        {
            text = String(decoding: compact, as: UTF8.self)
        } else {
            text = String(decoding: data, as: UTF8.self)
        }
        return truncated(text, to: width)
    }

    /// `text` on one line, cut to `width` characters with an ellipsis.
    static func truncated(_ text: String, to width: Int) -> String {
        let line = text.replacingOccurrences(of: "\n", with: " ")
        guard line.count > width else { return line }
        return String(line.prefix(max(0, width - 1))) + "…"
    }

    /// `text` padded with spaces to `width` characters.
    static func padded(_ text: String, to width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }

    /// One version's header line: dot, author, time, and `deleted` for a tombstone.
    static func versionHeader(_ version: Version) -> String {
        var line = "version \(dot(version.dot))  by \(version.dot.replica.short)  at \(time(version.timestamp))"
        if version.isTombstone { line += "  (deleted)" }
        return line
    }

    /// A document with every sibling, each body pretty-printed.
    static func document(_ document: StoredDocument) -> String {
        var lines = ["\(document.key)  partition \(document.partition)"]
        if document.isConflicted {
            lines.append(Console.highlight(
                "in conflict: \(document.siblings.count) versions; resolve with `fieldcli conflicts resolve \(document.key.collection) \(document.key.id)`"))
        } else if document.isDeleted {
            lines.append("deleted")
        }
        for sibling in document.siblings {
            lines.append("")
            if document.droppedBodies.contains(sibling.dot) {
                lines.append(versionHeader(sibling).replacingOccurrences(of: "  (deleted)", with: ""))
                lines.append(notKeptHere)
            } else {
                lines.append(versionHeader(sibling))
                if let body = sibling.shownBody { lines.append(Self.body(body)) }
            }
        }
        return lines.joined(separator: "\n")
    }
}

extension Rendering {
    /// One line of `fieldcli list`: id, partition, time, state and the start of the body.
    static func listLine(_ document: StoredDocument) -> String {
        let state = document.isConflicted
            ? Console.highlight("conflict(\(document.siblings.count))")
            : document.isDeleted ? "deleted" : document.isNotKeptHere ? "sent" : "ok"
        let head = "\(document.key.id)  \(padded(document.partition.rawValue, to: 10))  \(time(document.updatedAt))  \(padded(state, to: 8))"
        let width = max(40, Console.columns - head.count - 2)
        let preview = document.siblings.count != 1 ? ""
            : document.isNotKeptHere ? notKeptHere : Self.preview(document.siblings.first?.shownBody, width: width)
        return preview.isEmpty ? head.trimmingCharacters(in: .whitespaces) : head + "  " + preview
    }
}

extension Rendering {
    /// One version in `fieldcli history`.
    static func historyEntry(_ stored: StoredVersion, signature: SignatureStatus) -> String {
        let version = stored.version
        let state = stored.bodyDropped ? "  (\(notKeptHere))" : version.isTombstone ? "  (deleted)" : ""
        let checked = signature == .valid ? signature.rawValue : highlight(signature.rawValue)
        var lines = [
            "",
            "\(dot(version.dot))  \(time(version.timestamp))\(state)",
            "  author     \(version.dot.replica.hex)",
            "  context    \(version.context)",
            "  signature  \(stored.bodyDropped ? "not checked here (its body is not kept)" : checked)",
        ]
        if let from = stored.receivedFrom { lines.append("  from       \(from.hex)") }
        if let reason = stored.setAsideReason { lines.append("  set aside  \(highlight(reason.detail))") }
        return lines.joined(separator: "\n")
    }

    private static func highlight(_ text: String) -> String { Console.highlight(text) }

    /// What listings say of a version whose body was dropped after the hub acknowledged it.
    static let notKeptHere = "sent, not kept here"
}

extension Version {
    /// The body as it may be shown to people: sealed fields (the informant reference) replaced.
    var shownBody: Data? { SealedFields.redacted(body, in: collection) }
}
