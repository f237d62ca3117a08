import Foundation
public import HubStore
public import Logging
import Records
public import ReplicaStore
public import SyncEngine

/// The hub's storage on one SQLite replica file (the hub is a replica too).
///
/// Writers are serialized by SQLite, so concurrent exchanges are safe; the blocking database calls
/// run off Swift's cooperative thread pool.
public struct SQLiteHubStorage: HubStorage {
    /// The hub's replica.
    public let store: ReplicaStore

    public var hubID: ReplicaID { store.replicaID }

    public var hubKey: PublicDeviceKey { store.publicKey }

    public let receiptKey: AdmissionReceiptKey

    /// The id this storage writes the hub's merges under: a new one each time the hub's storage
    /// is opened (each process start), certified with the hub's key once it writes.
    public let writer: ReplicaID

    /// The most audit entries, and foreign-quarantine rows, one device's pushes may add per hour
    /// (0: no limit); beyond it they are counted.
    public let deviceEntriesPerHour: Int

    /// Uses an open hub's replica (opened in the hub's role: ``ReplicaStore/openHub(at:options:)``)
    /// as the hub's storage, with a device's hourly limit of `deviceEntriesPerHour` entries; runs
    /// the hub's migrations and creates the feed's scope indexes when it lacks them. A device's
    /// replica is refused (``StoreError/Code/roleMismatch``).
    public init(store: ReplicaStore, deviceEntriesPerHour: Int = DeviceEntryLimit.perHourByDefault) throws {
        try HubSchema.migrate(store)
        try store.ensureFeedIndexes()
        self.store = store
        self.deviceEntriesPerHour = max(0, deviceEntriesPerHour)
        receiptKey = store.admissionReceiptKey
        writer = ReplicaID.random()
    }

    /// Opens the hub replica at `path` in the hub's role, creating it (and its folder) when there
    /// is none; a device's replica there is refused (``StoreError/Code/roleMismatch``).
    public static func openOrCreate(
        path: String, options: ReplicaStore.Options = ReplicaStore.Options(),
        deviceEntriesPerHour: Int = DeviceEntryLimit.perHourByDefault, logger: Logger
    ) throws -> SQLiteHubStorage {
        if FileManager.default.fileExists(atPath: path) {
            return try SQLiteHubStorage(
                store: try ReplicaStore.openHub(at: path, options: options), deviceEntriesPerHour: deviceEntriesPerHour)
        }
        let store = try ReplicaStore.createHub(at: path, options: options)
        logger.notice(
            "created the hub replica",
            metadata: ["hub.db": "\(path)", "hub.replica": "\(store.replicaID.hex)"])
        return try SQLiteHubStorage(store: store, deviceEntriesPerHour: deviceEntriesPerHour)
    }

    public func take(_ push: PushPlan) async throws -> PushReport {
        let (store, writer, limit) = (self.store, self.writer, deviceEntriesPerHour)
        let pushed = Dictionary(push.versions.map { ($0.dot, $0) }, uniquingKeysWith: { first, _ in first })
        return try await offload {
            let now = store.now()
            let (applied, outcome) = try store.apply(
                push.versions, from: push.pusher, admit: push.policy.decide, implausible: .refuse
            ) { context in
                try store.quarantineForeign(in: context, push.forged, pushedBy: push.pusher, limit: limit)
                // What the hub sets aside is audited within the pusher's hourly limit.
                let report = context.report
                for (dot, reason) in report.setAside.sorted(by: { $0.key < $1.key }) {
                    let detail = pushed[dot].map { AuditEvent.quarantineDetail($0, reason: reason) }
                        ?? ["code": reason.code.rawValue, "reason": reason.detail]
                    try context.appendDeviceAudit(
                        device: push.pusher, action: .quarantined, subject: dot.description, detail: detail, at: now,
                        limit: limit)
                }
                let implausible = push.versions.compactMap { version in
                    report.implausible[version.dot].map { (version: version, reason: $0) }
                }
                try store.quarantineForeign(in: context, implausible, pushedBy: push.pusher, limit: limit)
                let conflicts = Set(FieldwiseResolution.documents(of: push.versions, report: report))
                let merged = try store.mergeFieldwise(in: context, conflicts, as: writer).count
                // Pushed again after a lost answer: what the hub holds of them set aside is told again.
                let answered = Set(report.setAside.keys).union(report.refused).union(report.forks)
                let heldAside = report.alreadyHeld > 0
                    ? try context.setAsideReasons(of: push.versions.map(\.dot).filter { !answered.contains($0) }) : [:]
                return (merged, heldAside)
            }
            return PushReport(applied: applied, merged: outcome.0, heldAside: outcome.1)
        }
    }

    public func counts() async throws -> HubCounts? {
        let store = self.store
        return try await offload { try store.hubCounts() }
    }

    public func authors(among origins: Set<ReplicaID>, within scope: Scope) async throws -> Set<ReplicaID> {
        let store = self.store
        return try await offload { try store.authors(among: origins, within: scope) }
    }

    public func quarantineReasons(of dots: [Dot]) async throws -> [Dot: SetAsideReason] {
        let store = self.store
        return try await offload { try store.setAsideReasons(of: dots) }
    }

    public func page(_ query: PageQuery) async throws -> FeedPage {
        let store = self.store
        return try await offload {
            try store.feedPage(
                after: query.after, through: query.through, limit: query.limit, maxBytes: query.maxBytes,
                maxScanned: query.maxScanned, knowledgeOf: query.knowledgeOf, scope: query.filter.readScope,
                include: query.filter.includes)
        }
    }

    public func versions(at dots: [Dot]) async throws -> [Version] {
        guard !dots.isEmpty else { return [] }
        let store = self.store
        return try await offload { try store.versions(at: dots) }
    }

    public func versions(from origins: Set<ReplicaID>, matching probes: [ReissueProbe]) async throws -> [Version] {
        guard !origins.isEmpty, !probes.isEmpty else { return [] }
        let store = self.store
        return try await offload { try store.versions(from: origins, matching: probes) }
    }
}
