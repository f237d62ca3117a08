import Foundation
public import ReplicaStore
public import SyncEngine

/// Store-and-forward bundles on a field replica: writing what another replica lacks, and taking
/// one in the way a pulled page is taken — certificates checked against the pinned hub key,
/// signatures, revocation horizons, the read scope and causal plausibility — in one transaction.
public enum FieldBundles {
    /// What importing a bundle did.
    public struct ImportReport: Sendable, Hashable {
        /// The replica that wrote the bundle.
        public var exporter: ReplicaID
        /// The versions it carried.
        public var versions = 0
        /// Versions stored for the first time (those held aside among them included).
        public var stored = 0
        /// Versions this replica already held.
        public var alreadyHeld = 0
        /// Versions stored but held aside until what their context names arrives.
        public var heldAside = 0
        /// Versions kept apart, never shown: a bad signature, an author key not certified by the
        /// pinned hub, or above a revocation horizon.
        public var keptApart: [VerificationReport] = []
        /// Versions outside this device's read scope, not stored.
        public var outsideReadScope = 0
        /// Dots held here with another signature: not stored.
        public var forks: [Dot] = []
        /// Author keys the bundle's certificates established.
        public var newKeys = 0
        /// Attachment files now held whole that were not before.
        public var attachmentsStored = 0
        /// Attachment files refused: a chunk or the whole does not match its SHA-256.
        public var attachmentsRefused = 0
    }

    /// The bundle of what a replica knowing `knowledge` lacks (everything, for an empty vector),
    /// with the certificates and revocation notices this replica holds for it, and, with
    /// `attachments`, the files its versions name that this replica holds whole.
    public static func export(
        from store: ReplicaStore, lacking knowledge: VersionVector, now: UInt64, attachments: Bool = true
    ) throws -> SyncBundle {
        let versions = try store.versions(missingFrom: knowledge, limit: 50_000_000, maxBytes: 1 << 50).versions
        var origins = Set(versions.map(\.dot.replica))
        origins.insert(store.replicaID)
        let certificates = try store.heldCertificates(of: origins)
        let hubs = try store.trustedHubs()
        let hub = hubs.count == 1 ? hubs.keys.first : certificates.first?.hub
        var bundle = SyncBundle(
            exporter: store.replicaID, hub: hub, knowledge: try store.knowledge(), createdAt: now, versions: versions,
            certificates: certificates, revocations: try store.heldRevocationNotices())
        if attachments { try attachFiles(to: &bundle, from: store) }
        return bundle
    }

    /// Takes `bundle` into `store`: the certificates and notices of the pinned hub first, then the
    /// versions, the kept-apart ones and the exporter's knowledge in one transaction, then the
    /// files (content-addressed: a file cut short by a crash is completed by the next import).
    /// Throws ``SyncBundleError`` (`foreignNetwork`) for a bundle written under a hub this replica
    /// did not pin, while it pinned another, and changes nothing then.
    public static func importBundle(_ bundle: SyncBundle, into store: ReplicaStore, now: UInt64) async throws -> ImportReport {
        let trust = try trust(of: bundle, in: store)
        try store.saveCertifiedKeys(trust.newCertificates)
        try store.saveRevocations(trust.revocations)
        var report = ImportReport(exporter: bundle.exporter, versions: bundle.versions.count, newKeys: trust.newCertificates.count)
        let readScope = try readScope(of: store)
        let inScope = bundle.versions.filter { readScope?.allows(collection: $0.collection, partition: $0.partition) ?? true }
        report.outsideReadScope = bundle.versions.count - inScope.count
        let (admitted, keptApart) = await verify(inScope, trust: trust)
        let (exporter, knowledge) = (bundle.exporter, bundle.knowledge)
        let applied = try store.apply(admitted, from: exporter, inSameTransaction: { context in
            try context.keepUnverified(keptApart, at: now)
            try context.recordBundlePeer(exporter, knowledge: knowledge, at: now)
        })
        report.stored = applied.stored
        report.alreadyHeld = applied.alreadyHeld
        report.heldAside = applied.setAside.count
        report.forks = applied.forks
        report.keptApart = keptApart.map { VerificationReport(dot: $0.version.dot, reason: $0.reason) }
        let files = try takeAttachments(of: bundle, namedBy: admitted, into: store)
        report.attachmentsStored = files.stored
        report.attachmentsRefused = files.refused
        return report
    }

    /// `versions` split into those to apply and those to keep apart (verify before showing).
    static func verify(
        _ versions: [Version], trust: PageTrust
    ) async -> (admitted: [Version], keptApart: [(version: Version, reason: VerificationReport.Reason)]) {
        let failed = await SignatureCheck.failures(of: versions, keys: trust.keys)
        var admitted: [Version] = []
        var keptApart: [(version: Version, reason: VerificationReport.Reason)] = []
        for version in versions {
            if let reason = trust.keepApartReason(of: version, failedSignatures: failed) {
                keptApart.append((version, reason))
            } else {
                admitted.append(version)
            }
        }
        return (admitted, keptApart)
    }

    /// What `store` trusts of `bundle`: the certificates and notices of the hub it pinned, the
    /// keys it holds. A replica that pinned no hub, or a bundle that names none, trusts only the
    /// keys held: a bundle never pins a hub on first sight.
    static func trust(of bundle: SyncBundle, in store: ReplicaStore) throws -> PageTrust {
        let hubs = try store.trustedHubs()
        var anchors = PageTrust.Anchors(hubs: hubs, keys: try store.publicKeys(), revocations: try store.revocationHorizons())
        guard let hub = bundle.hub, !hubs.isEmpty else {
            anchors.hubs = [:]
            return try PageTrust(anchors: anchors, hub: bundle.exporter, certificates: [], revocations: [])
        }
        do {
            return try PageTrust(anchors: anchors, hub: hub, certificates: bundle.certificates, revocations: bundle.revocations)
        } catch {
            throw SyncBundleError(
                .foreignNetwork,
                "The bundle was written under hub \(hub.short), not the hub this replica enrolled with; nothing of it was imported.")
        }
    }

    /// The read scope the hub last granted this device, if it told one.
    static func readScope(of store: ReplicaStore) throws -> Scope? {
        guard let hub = try HubCredentials.savedHub(in: store) else { return nil }
        return try store.peerState(hub).grants?.read
    }
}
