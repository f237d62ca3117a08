public import Foundation
public import SyncEngine

/// What the hub's operator commands (`syncd devices`, the console) do to its device registry, as a
/// backend provides it: give out, list and cancel enrollment codes, list devices, revoke them, change
/// their grants and media policies.
/// The exchange's side is ``DeviceRegistry``; a backend provides both over the same tables.
///
/// (SyncHub's `DeviceAdministration` is the operator's façade that words failures for people;
/// this is the storage seam underneath it, which speaks outcomes.)
public protocol DeviceAdministrationStorage: Sendable {
    /// The backend's clock in milliseconds since 1970 (codes' lifetimes count from it).
    func now() async throws -> UInt64

    /// Records a one-time enrollment code (by its hash, ``EnrollmentCode/hash(_:)``) for a device
    /// to be called `deviceName`, with the grants it will have, valid until `expiresAt`; returns
    /// false, recording nothing, when an active device already has that name.
    func addEnrollmentCode(
        hash: Data, deviceName: String, grants: AccessGrants, expiresAt: UInt64, actor: String
    ) async throws -> Bool

    /// The enrollment codes that can still enroll a device (not used, not expired), oldest first,
    /// each named by the first digits of its hash (the hub keeps no code).
    func unusedEnrollmentCodes() async throws -> [EnrollmentCodeRecord]

    /// Cancels the unused codes of the device name `nameOrPrefix`, or the one code whose hash
    /// starts with those hexadecimal digits (at least 6): a cancelled code expires at once.
    func cancelEnrollmentCodes(_ nameOrPrefix: String) async throws -> CodeCancellation

    /// Every enrolled device, active and revoked, by name, with its incarnations and grants.
    func devices() async throws -> [DeviceRecord]

    /// The console's fleet page: up to `limit` devices (1 to ``FleetPage/maximumSize``) by name
    /// (byte order), then enrollment time, after `position`, whether more follow, and what the hub
    /// set aside of each one's pushes under any of its replica ids (``SetAsideCounts``: rejected
    /// for what they say, quarantined for how they came, the foreign quarantine included). Reads
    /// the page's devices, not every device, and only set-aside and quarantined rows of theirs.
    func fleetPage(after position: FleetPage.Position?, limit: Int) async throws -> FleetPage

    /// Revokes the active device with this replica id (hex) or, failing that, this name, in one
    /// transaction: its credential stops working, the highest counter held of its enrolled id and
    /// of each incarnation is recorded as a revocation horizon (signed notices follow from them),
    /// and the unused codes given out for its name expire.
    func revokeDevice(_ nameOrID: String, actor: String) async throws -> RevocationOutcome

    /// Replaces the read scope, the write scope, or both (nil keeps one) of the active device with
    /// this replica id (hex) or, failing that, this name; both grant sets stay readable by
    /// fingerprint.
    func setGrants(read: Scope?, write: Scope?, ofDevice nameOrID: String, actor: String) async throws
        -> GrantChangeOutcome

    /// Sets the media policy the device enrolled with the code whose hash is `codeHash` will have.
    func setMediaPolicy(_ policy: MediaPolicy, ofCode codeHash: Data) async throws

    /// Sets the media policy of the enrolled device `device`; false when there is none.
    @discardableResult
    func setMediaPolicy(_ policy: MediaPolicy, of device: ReplicaID) async throws -> Bool

    /// The media policy of the enrolled device `device` (set on it, else on the code that enrolled
    /// it); nil when none was set.
    func mediaPolicy(of device: ReplicaID) async throws -> MediaPolicy?
}
