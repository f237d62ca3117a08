import Foundation
import ReplicaStore
import SyncEngine
import Records

/// A plaintext informant reference and no informant key on this device to seal it to.
struct InformantKeyMissing: Error, Sendable, CustomStringConvertible {
    var description: String {
        "This device has no informant key yet, so the informant reference cannot be sealed; sync once (`fieldcli sync`) to fetch it from the hub, then record again. Nothing was written."
    }
}

/// Seals an observation's informant reference to the network's informant key before the record
/// is signed and stored, so it never sits in clear in this replica, on the wire or at the hub.
///
/// A replica enrolled with a hub that has no informant key yet refuses (exit 92). A replica never
/// enrolled (a standalone one, or one used before enrollment) belongs to no network whose key it
/// could seal to: it keeps the reference as given, as Vigil did before sealing existed, protected
/// at rest by the replica's own encryption; on a terminal it says so.
enum InformantReferenceSealing {
    /// `body` with `source_protection.informant_ref` sealed for the document `key`; unchanged
    /// bytes when there is none, it is sealed already, or the replica is enrolled with no hub.
    /// Throws ``InformantKeyMissing`` when the replica is enrolled and holds no informant key.
    static func sealed(_ body: Data, key: DocumentKey, store: ReplicaStore) throws -> Data {
        guard InformantSeal.referenceInClear(in: body, collection: key.collection) != nil else { return body }
        switch try mode(store, noting: true) {
        case .keep: return body
        case .refuse:
            // The next sync asks for the key at once, however recently it asked.
            try? store.clearInformantKeyChecks()
            throw InformantKeyMissing()
        case .seal(let informantKey):
            do {
                return try InformantSeal.sealingReference(in: body, to: informantKey, collection: key.collection, id: key.id) ?? body
            } catch let error as InformantSealError {
                throw InvalidInput("The informant reference cannot be sealed: \(error) Shorten it and write again.")
            }
        }
    }

    /// What this replica does with a reference in clear: seal it to the informant key it holds,
    /// refuse (enrolled, no key yet), or keep it (enrolled with no hub; said on a terminal). Only
    /// a refusal that happens makes the next sync ask for the key early
    /// (``ReplicaStore/clearInformantKeyChecks()``): asking is a round trip on a paid link.
    static func mode(_ store: ReplicaStore, noting: Bool) throws -> InformantSealing {
        if let statement = try store.informantKey() { return .seal(statement.publicKey) }
        guard try store.trustedHubs().isEmpty else { return .refuse }
        if noting, isatty(STDERR_FILENO) == 1 {
            FileHandle.standardError.write(Data(
                "fieldcli: note: this replica is enrolled with no hub, so informant references are kept as given (not sealed); enroll and sync before recording them.\n".utf8))
        }
        return .keep
    }
}

extension StatusReport {
    /// The network's informant key this replica seals references to (its id), or why there is none.
    mutating func addInformantKey(_ statement: InformantKeyStatement?, enrolled: Bool) {
        let text: String
        if let statement {
            text = "\(statement.publicKey.keyID) (informant references are sealed to it)"
        } else if enrolled {
            text = "none yet (sync to fetch it; informant references are refused until then)"
        } else {
            text = "none (enrolled with no hub: informant references are kept as given)"
        }
        add("informant", text, key: "informantKey", value: statement.map { $0.publicKey.keyID } ?? NSNull())
    }
}
