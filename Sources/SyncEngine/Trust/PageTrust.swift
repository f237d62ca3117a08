/// What a device trusts when a page arrives, decided without I/O: which of the hub's certificates
/// establish new author keys, which revocation notices hold, and which pulled versions are kept
/// apart instead of being applied (verify before showing).
public struct PageTrust: Sendable, Hashable {
    /// What the device held before the page.
    public struct Anchors: Sendable, Hashable {
        /// The hub keys pinned at enrollment, by hub id.
        public var hubs: [ReplicaID: PublicDeviceKey]
        /// The author keys established so far.
        public var keys: [ReplicaID: PublicDeviceKey]
        /// Revoked ids and their horizons.
        public var revocations: [ReplicaID: UInt64]

        public init(hubs: [ReplicaID: PublicDeviceKey], keys: [ReplicaID: PublicDeviceKey], revocations: [ReplicaID: UInt64]) {
            self.hubs = hubs
            self.keys = keys
            self.revocations = revocations
        }
    }

    /// Why the page cannot be trusted at all.
    public enum Refusal: Error, Sendable, Hashable {
        /// The answer comes from a replica that is not a hub this device pinned.
        case unknownHub(ReplicaID)
    }

    /// The hub key to pin on first sight: set only for a device that pinned no hub yet (enrolled
    /// before certificates), from the hub's own certificate of itself.
    public private(set) var pinOnFirstSight: PublicDeviceKey?
    /// Certificates that establish keys the device did not hold.
    public private(set) var newCertificates: [DeviceCertificate] = []
    /// Certificates refused: not the pinned hub's signature, or changing a held key.
    public private(set) var refusedCertificates: [DeviceCertificate] = []
    /// Notices signed by the pinned hub.
    public private(set) var revocations: [RevocationNotice] = []
    /// The author keys after the page.
    public private(set) var keys: [ReplicaID: PublicDeviceKey]
    /// The revocation horizons after the page.
    public private(set) var horizons: [ReplicaID: UInt64]

    /// Judges the trust material of a page from `hub`. Throws ``Refusal`` when the device pinned
    /// hubs and `hub` is none of them.
    public init(
        anchors: Anchors, hub: ReplicaID, certificates: [DeviceCertificate], revocations: [RevocationNotice]
    ) throws(Refusal) {
        keys = anchors.keys
        horizons = anchors.revocations
        let hubKey: PublicDeviceKey
        if let pinned = anchors.hubs[hub] {
            hubKey = pinned
        } else if anchors.hubs.isEmpty,
            let own = certificates.first(where: { $0.replica == hub && $0.hub == hub && $0.isSigned(by: $0.publicKey) })
        {
            hubKey = own.publicKey
            pinOnFirstSight = own.publicKey
        } else if anchors.hubs.isEmpty {
            return  // Nothing pinned and nothing to pin: no key can be established.
        } else {
            throw .unknownHub(hub)
        }
        keys[hub] = hubKey  // the hub's own versions (merges, resolutions) verify against the pinned key
        for certificate in certificates where certificate.replica != hub {
            guard certificate.hub == hub, certificate.isSigned(by: hubKey) else {
                refusedCertificates.append(certificate)
                continue
            }
            if let held = keys[certificate.replica] {
                if held != certificate.publicKey { refusedCertificates.append(certificate) }
                continue
            }
            keys[certificate.replica] = certificate.publicKey
            newCertificates.append(certificate)
        }
        for notice in revocations where notice.hub == hub && notice.isSigned(by: hubKey) {
            self.revocations.append(notice)
            horizons[notice.replica] = min(horizons[notice.replica] ?? notice.horizon, notice.horizon)
        }
    }

    /// Why `version` must be kept apart rather than applied, given the dots whose signature failed
    /// against ``keys``; nil when it may be applied.
    public func keepApartReason(of version: Version, failedSignatures: Set<Dot>) -> VerificationReport.Reason? {
        if let horizon = horizons[version.dot.replica], version.dot.counter > horizon { return .revoked }
        guard failedSignatures.contains(version.dot) else { return nil }
        return keys[version.dot.replica] == nil ? .unknownKey : .badSignature
    }
}
