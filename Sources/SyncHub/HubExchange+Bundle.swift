public import Logging
public import SyncEngine

extension HubExchange {
    /// What importing a bundle at the hub did.
    public struct BundleImport: Sendable, Hashable {
        /// The versions the bundle carried.
        public var versions = 0
        /// Versions stored and merged for the first time.
        public var accepted = 0
        /// Versions the hub did not take into the shared state, with the reason, as a push's.
        public var rejected: [Rejection] = []
        /// Versions not stored because the hub lacks their origin's earlier counters.
        public var gaps: [Dot] = []
    }

    /// Imports a store-and-forward bundle through the hub's own admission, as a push from its
    /// exporter: revocation horizons, signatures against the origins' enrolled keys, write scopes,
    /// record validation and causal plausibility, in batches of at most the push limit taken in
    /// causal order. Every batch is checked against the message limits before the first is
    /// applied. Anyone can write a bundle's exporter: its versions that fail their signature are
    /// kept apart as a relay's, never quarantined at their origin's dot as the exporter's own
    /// (which would refuse that device's genuine version there as a fork).
    /// The hub verifies against its own registry, never the bundle's certificates; a
    /// bundle written under another hub throws ``SyncBundleError`` (`foreignNetwork`) and changes
    /// nothing. Importing a bundle again changes nothing.
    public func importBundle(_ bundle: SyncBundle, logger: Logger) async throws -> BundleImport {
        if let hub = bundle.hub, hub != hubID {
            throw SyncBundleError(
                .foreignNetwork,
                "The bundle was written under hub \(hub.short), not this hub (\(hubID.short)); nothing of it was imported.")
        }
        let ordered = CausalPlausibility.causalOrder(bundle.versions)
        let size = max(1, configuration.limits.maxPushVersions)
        let requests = stride(from: 0, to: ordered.count, by: size).map { start in
            SyncRequest(
                replica: bundle.exporter, counter: 0, checkpoint: nil,
                push: Array(ordered[start..<min(start + size, ordered.count)]))
        }
        for request in requests { try await check(request, from: nil) }
        var result = BundleImport(versions: bundle.versions.count)
        for request in requests {
            let outcome = try await take(request, from: nil, relayed: true)
            result.accepted += outcome.accepted
            result.rejected += outcome.rejected
            result.gaps += outcome.gaps
        }
        logger.info(
            "bundle imported",
            metadata: [
                "sync.peer": "\(bundle.exporter.hex)", "sync.versions": "\(result.versions)",
                "sync.accepted": "\(result.accepted)", "sync.rejected": "\(result.rejected.count)",
                "sync.gaps": "\(result.gaps.count)",
            ])
        return result
    }
}
