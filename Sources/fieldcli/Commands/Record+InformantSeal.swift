import Foundation
import ReplicaStore
import SyncEngine

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
        guard RecordKind(collection: key.collection) == .observation, case .object(var fields)? = try? JSONValue(parsing: body),
            case .object(var protection)? = fields["source_protection"],
            case .string(let reference)? = protection["informant_ref"], !InformantSeal.isSealed(reference)
        else { return body }
        guard let statement = try store.informantKey() else {
            guard try store.trustedHubs().isEmpty else { throw InformantKeyMissing() }
            if isatty(STDERR_FILENO) == 1 {
                FileHandle.standardError.write(Data(
                    "fieldcli: note: this replica is enrolled with no hub, so the informant reference is kept as given (not sealed); enroll and sync before recording informant references.\n".utf8))
            }
            return body
        }
        do {
            protection["informant_ref"] = .string(
                try InformantSeal.seal(reference, to: statement.publicKey, collection: key.collection, id: key.id))
        } catch let error as InformantSealError {
            throw InvalidInput("The informant reference cannot be sealed: \(error) Shorten it and record again.")
        }
        fields["source_protection"] = .object(protection)
        return JSONValue.object(fields).canonicalData
    }
}
