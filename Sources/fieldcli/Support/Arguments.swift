import Foundation
import SyncEngine

/// Turns command-line text into the model's checked values, with sentences that say what is wrong.
///
/// These run in `run()` rather than as `ExpressibleByArgument` so that a bad name exits with
/// ``ArgumentParser/ExitCode/invalidInput`` (65), not the usage code.
enum Arguments {
    static func collection(_ text: String) throws -> CollectionName {
        guard let name = CollectionName(text) else {
            throw InvalidInput(
                "'\(text.prefix(64))' is not a collection name: use a lowercase letter, then up to 63 lowercase letters, digits, '_' or '-'.")
        }
        return name
    }

    static func documentID(_ text: String) throws -> DocumentID {
        guard let id = DocumentID(text) else {
            throw InvalidInput(
                "'\(text.prefix(64))' is not a document id: use 1 to 128 letters, digits, '.', '_', '-' or ':'.")
        }
        return id
    }

    static func key(_ collection: String, _ id: String) throws -> DocumentKey {
        DocumentKey(collection: try self.collection(collection), id: try documentID(id))
    }

    static func partition(_ text: String) throws -> Partition {
        guard let partition = Partition(text) else {
            throw InvalidInput(
                "'\(text.prefix(64))' is not a partition: use 1 to 64 letters, digits, '.', '_', '-' or ':'.")
        }
        return partition
    }

    /// A list cursor as `fieldcli list` prints it: `<milliseconds>/<document id>`.
    static func cursor(_ text: String) throws -> String {
        let parts = text.split(separator: "/", maxSplits: 1)
        guard parts.count == 2, Int64(parts[0]) != nil, DocumentID(String(parts[1])) != nil else {
            throw InvalidInput("'\(text.prefix(64))' is not a page cursor; use the one the previous `fieldcli list` printed.")
        }
        return text
    }

    /// The sibling named by `text`: a full dot `<replica id>:<counter>` or a short one whose replica
    /// part is a prefix of at least 4 hexadecimal digits, as `fieldcli conflicts show` prints.
    static func sibling(_ text: String, among siblings: [Version], of key: DocumentKey) throws -> Version {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, (4...32).contains(parts[0].count), parts[0].utf8.allSatisfy(\.isHexadecimal),
            let counter = UInt64(parts[1])
        else {
            throw InvalidInput(
                "'\(text.prefix(80))' is not a version: give it as REPLICA:COUNTER, as `fieldcli conflicts show \(key.collection) \(key.id)` prints it.")
        }
        let prefix = parts[0].lowercased()
        let matches = siblings.filter { $0.dot.counter == counter && $0.dot.replica.hex.hasPrefix(prefix) }
        guard matches.count == 1, let match = matches.first else {
            throw InvalidInput(
                matches.isEmpty
                    ? "\(text) is not one of the conflicting versions of \(key); `fieldcli conflicts show \(key.collection) \(key.id)` lists them."
                    : "\(text) matches several versions of \(key); give more digits of the replica id.")
        }
        return match
    }
}

extension UInt8 {
    fileprivate var isHexadecimal: Bool {
        (0x30...0x39).contains(self) || (0x41...0x46).contains(self) || (0x61...0x66).contains(self)
    }
}
