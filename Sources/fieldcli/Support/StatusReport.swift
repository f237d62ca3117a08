import Foundation
import ReplicaStore

/// What `fieldcli status` shows, built field by field so that other parts (sync) can add theirs.
struct StatusReport {
    private var lines: [String] = []
    private var object: [String: Any] = [:]

    /// Adds one field: `label` and `text` for people, `key` and `value` in the JSON document.
    mutating func add(_ label: String, _ text: String, key: String, value: Any) {
        lines.append(Rendering.padded(label, to: 12) + text)
        object[key] = value
    }

    /// Adds a field to the JSON form only (the text form says it on another line).
    mutating func add(key: String, value: Any) {
        object[key] = value
    }

    /// Adds the replica's own fields.
    mutating func addReplica(_ store: ReplicaStore, _ status: ReplicaStatus) {
        add("replica", status.replicaID.hex, key: "replicaID", value: status.replicaID.hex)
        add("file", store.path, key: "path", value: store.path)
        add("counter", "\(status.counter)", key: "counter", value: status.counter)
        add("knowledge", "\(status.knowledge)", key: "knowledge", value: JSONOutput.vector(status.knowledge))
        let collections = status.documentsPerCollection.sorted { $0.key < $1.key }
        add(
            "documents",
            collections.isEmpty ? "none" : collections.map { "\($0.key) \($0.value)" }.joined(separator: ", "),
            key: "documents",
            value: Dictionary(uniqueKeysWithValues: collections.map { ($0.key.rawValue, $0.value) }))
        add("deleted", "\(status.deletedDocuments)", key: "deleted", value: status.deletedDocuments)
        add(
            "conflicts",
            status.conflicts == 0 ? "0" : Console.highlight("\(status.conflicts) (see `fieldcli conflicts list`)"),
            key: "conflicts", value: status.conflicts)
        add("versions", "\(status.versions)", key: "versions", value: status.versions)
        add("set aside", "\(status.setAside)", key: "setAside", value: status.setAside)
        add("keep sent", status.keepSent.rawValue, key: "keepSent", value: status.keepSent.rawValue)
        add("not kept", "\(status.droppedBodies) (sent, not kept here)", key: "bodiesNotKept", value: status.droppedBodies)
        if !status.earlierIncarnations.isEmpty {
            add(
                "earlier ids",
                status.earlierIncarnations.map {
                    "\($0.replicaID.hex) (forked at \($0.forkedAt), \($0.reissued) re-issued as \($0.succeededBy.short))"
                }.joined(separator: ", "),
                key: "earlierIncarnations",
                value: status.earlierIncarnations.map {
                    [
                        "replicaID": $0.replicaID.hex, "forkedAt": $0.forkedAt.description,
                        "succeededBy": $0.succeededBy.hex, "reissued": $0.reissued,
                    ] as [String: Any]
                })
        }
    }

    func print(json: Bool) throws {
        if json {
            try JSONOutput.print(object)
        } else {
            Swift.print(lines.joined(separator: "\n"))
        }
    }
}
