import Foundation
public import Logging
public import HubStore
public import SyncEngine
import Records

/// The hub's side of one exchange, with no HTTP in it: applies the push in one transaction, then
/// answers the hub's knowledge delta, the rejections, and one page of what the client lacks.
///
/// The route calls it, and so do tests and simulations, directly.
public struct HubExchange: Sendable {
    /// Where the hub keeps everything: versions, devices, attachments.
    public let backend: HubBackend
    public let configuration: HubConfiguration
    /// The exchange's figures for Prometheus (`syncd serve --metrics-listen`).
    public let metrics: HubMetrics
    let logger: Logger

    /// Where the hub's versions live.
    public var storage: any HubStorage { backend.storage }
    /// The enrolled devices: their credentials and the keys pushed versions are verified against.
    public var devices: any DeviceRegistry { backend.devices }

    public init(backend: HubBackend, configuration: HubConfiguration, metrics: HubMetrics = HubMetrics(), logger: Logger) {
        self.backend = backend
        self.configuration = configuration
        self.metrics = metrics
        self.logger = logger
    }

    /// An exchange over `storage` alone, with `devices` (none when not given) and no attachments,
    /// even when `storage` is a ``HubStore/SQLiteHubStorage``: a hub's whole backend (SQLite's,
    /// `HubBackend.sqlite`, or PostgreSQL's) comes through ``init(backend:configuration:metrics:logger:)``.
    public init(
        storage: any HubStorage, configuration: HubConfiguration, devices: (any DeviceRegistry)? = nil,
        metrics: HubMetrics = HubMetrics(), logger: Logger
    ) {
        self.init(
            backend: HubBackend(storage: storage, devices: devices ?? EmptyDeviceRegistry()), configuration: configuration,
            metrics: metrics, logger: logger)
    }

    /// The hub replica's id.
    public var hubID: ReplicaID { storage.hubID }

    /// Carries out one exchange; logs one line with the exchange logger.
    public func handle(_ request: SyncRequest) async throws -> SyncResponse {
        try await handle(request, logger: logger)
    }

    /// Carries out one exchange; logs one line to `logger` (the request's, with its id).
    ///
    /// `device` is the device the request's credential belongs to (the HTTP route passes it):
    /// the request must speak for that device's replica (its enrolled id or a later incarnation), and the exchange is recorded for
    /// operators (last seen, lag, clock skew).
    public func handle(_ request: SyncRequest, device: DeviceRecord? = nil, logger: Logger) async throws -> SyncResponse {
        try await check(request, from: device)
        let push = try await take(request, from: device)
        try await recordReports(of: request, logger: logger)

        // The pull, read after the push, with the knowledge, in one snapshot, within the read scope.
        let registry = devices
        let plan = try await PullPlan.plan(checkpoint: request.checkpoint, grants: device?.grants ?? .everything) {
            try await registry.grants(fingerprint: $0)
        }
        var answering = ExchangeAnswer(
            request: try await answerable(request, push: push, from: device), device: device, push: push, plan: plan,
            hub: storage.hubID, receiptKey: storage.receiptKey, limits: configuration.limits)
        var answer = try await read(&answering)
        if !answer.partialVouches.isEmpty {
            answer.vouchInFull(try await certifiable(Set(answer.partialVouches.entries.keys), to: device))
        }
        var response = answer.response
        if answer.attachesTrust {
            try await attachTrust(to: &response, revocationsHeld: request.revocationsHeld, horizons: push.horizons)
        }
        if let own = answer.ownLatest { response.ownLatest = try await storage.versions(at: [own]).first }
        let facts = answer.facts
        metrics.recordVersions(pushed: facts.pushed, accepted: facts.accepted, pulled: facts.pulled, rejected: facts.rejected)
        if let record = answer.record {
            let now = UInt64(max(0, Date().timeIntervalSince1970 * 1000))
            try await devices.recordExchange(
                of: record.replica, pulledAfter: record.pulledAfter, skewMilliseconds: record.skew(now: now),
                pending: record.pending)
        }
        logger.info("sync exchange", metadata: facts.metadata)
        return response
    }

    /// Reads the pages `answering` asks for until it has its answer.
    private func read(_ answering: inout ExchangeAnswer) async throws -> ExchangeAnswer.Answer {
        var step = answering.start()
        while true {
            switch step {
            case .read(let query): step = answering.next(after: try await storage.page(query))
            case .answer(let answer): return answer
            }
        }
    }

    /// Refuses, before anything of it is applied, a request in a protocol version this hub does not
    /// speak, one that speaks for another replica than its credential's, or one over a limit.
    func check(_ request: SyncRequest, from device: DeviceRecord?) async throws {
        let limits = configuration.limits
        guard SyncProtocol.supported.contains(request.protocolVersion) else {
            throw SyncHubError(
                .unsupportedProtocol,
                "The client speaks sync protocol \(request.protocolVersion); this hub speaks \(Self.describe(SyncProtocol.supported)). Upgrade the older side.")
        }
        if let device, !device.isIncarnation(request.replica) {
            try await checkUnlisted(request.replica, of: device)
        }
        guard request.push.count <= limits.maxPushVersions else {
            throw SyncHubError(
                .tooLarge,
                "The push carries \(request.push.count) versions; the limit is \(limits.maxPushVersions) per exchange. Push in smaller batches.")
        }
        try checkMessageLimits(request)
    }

    /// A request speaking for an id its device's record does not list: one bound to this device
    /// since the record was read (same key) passes; one that is another device's or the hub's is
    /// `forbidden`; one nobody holds is `unknown-incarnation` (a hub restored from a backup forgot
    /// the incarnation), which the device binds again with `POST /v1/incarnate`.
    private func checkUnlisted(_ replica: ReplicaID, of device: DeviceRecord) async throws {
        let key = try await devices.keys(of: [replica])[replica]
        if key == device.publicKey { return }
        if key != nil || replica == storage.hubID {
            throw SyncHubError(
                .forbidden,
                "This device's credential belongs to replica \(device.replicaID.short), not to \(replica.short); a device syncs only as itself.")
        }
        throw SyncHubError(
            .unknownIncarnation,
            "Replica \(replica.short) is not bound to this device's credential (enrolled as \(device.replicaID.short)); a device binds an id it took with POST /v1/incarnate.")
    }

    /// Takes a push: refuses versions above a revocation horizon, checks signatures against the
    /// origins' enrolled keys (forged origins kept apart), orders it causally (so that the feed never
    /// serves a version before what it depends on), validates records on every core, applies it in
    /// one transaction, and merges field by field what it left in conflict.
    ///
    /// `relayed`: the request's replica is a claim no credential backs (a bundle's exporter), so
    /// none of the push is taken as its own: a version that fails its signature is kept apart,
    /// never quarantined at its origin's dot.
    func take(_ request: SyncRequest, from device: DeviceRecord?, relayed: Bool = false) async throws -> PushOutcome {
        var push = CausalPlausibility.causalOrder(request.push)
        var outcome = PushOutcome()
        guard !push.isEmpty else { return outcome }
        let origins = try await devices.pushOrigins(of: Set(push.map(\.dot.replica)))
        outcome.horizons = origins.horizons
        outcome.rejected = refuseRevoked(&push, horizons: origins.horizons)
        var badSignatures: [Dot: SetAsideReason] = [:]
        var forged: [(version: Version, reason: SetAsideReason)] = []
        if configuration.verifySignatures, !push.isEmpty {
            (badSignatures, forged) = try await verifySignatures(
                of: push, pushedBy: relayed ? nil : request.replica, keys: origins.keys)
            let foreign = Set(forged.map(\.version.dot))
            push.removeAll { foreign.contains($0.dot) }
            outcome.rejected += forged.map { Self.quarantineRejection($0.version.dot, $0.reason) }
        }
        outcome.taken = push.count
        guard !push.isEmpty || !forged.isEmpty else { return outcome }
        let policy = await admissionPolicy(
            for: push, from: request.replica, device: device, badSignatures: badSignatures, grants: origins.grants)
        let taken = try await storage.take(
            PushPlan(versions: push.map(\.withoutReceipt), pusher: request.replica, policy: policy, forged: forged))
        let wanted = PushOutcome.evidenceWanted(taken)
        var done = PushOutcome(
            report: taken, push: push, pusher: request.replica, earlier: outcome.rejected,
            evidence: wanted.isEmpty ? [] : try await storage.versions(at: wanted), receiptKey: storage.receiptKey)
        done.horizons = origins.horizons
        return done
    }

    /// How the checked push is admitted: each version against the write scope of the device that
    /// wrote it, unless it carries this hub's receipt (the hub admitted it before, under grants a
    /// restore may have lost), with its record validated here on every core (the transaction then
    /// only looks up). Receipts are not stored: the hub makes them again as it serves. `grants`
    /// are those of the push's origins.
    func admissionPolicy(
        for push: [Version], from pusher: ReplicaID, device: DeviceRecord?, badSignatures: [Dot: SetAsideReason],
        grants: [ReplicaID: AccessGrants]
    ) async -> AdmissionPolicy {
        let maxRecordBytes = configuration.limits.maxRecordBytes
        let recordProblems = Dictionary(
            await Parallel.compactMap(push) { version in
                Self.recordProblem(of: version, maxRecordBytes: maxRecordBytes).map { (version.dot, $0) }
            },
            uniquingKeysWith: { first, _ in first })
        var writeScopes = grants.mapValues(\.write)
        if let device { writeScopes[pusher] = device.grants.write }
        return AdmissionPolicy(
            badSignatures: badSignatures, recordProblems: recordProblems, writeScopes: writeScopes,
            receipted: Set(push.filter(storage.receiptKey.vouches(for:)).map(\.dot)))
    }

    /// Records the pulled versions a device reports failing verification (the hub served bad bytes
    /// or keys); reports about versions the hub never served that device are ignored and counted.
    func recordReports(of request: SyncRequest, logger: Logger) async throws {
        guard let reports = request.unverified, let first = reports.first else { return }
        let outcome = try await devices.recordVerificationReports(reports, reportedBy: request.replica)
        logger.warning(
            "a device reports pulled versions that fail signature verification",
            metadata: [
                "sync.peer": "\(request.replica.hex)", "sync.unverified": "\(reports.count)",
                "sync.unverifiedIgnored": "\(outcome.ignored)",
                "sync.firstUnverified": "\(first.dot)", "sync.reason": "\(first.reason.rawValue)",
            ])
    }

    /// Removes from `push` the versions of revoked origins above their revocation `horizons` and
    /// returns their rejections: they are not stored (a captor holding a seized device's key
    /// cannot inject through another device's relay).
    func refuseRevoked(_ push: inout [Version], horizons: [ReplicaID: UInt64]) -> [Rejection] {
        guard !horizons.isEmpty else { return [] }
        var rejections: [Rejection] = []
        push.removeAll { version in
            guard let horizon = horizons[version.dot.replica], version.dot.counter > horizon else { return false }
            rejections.append(
                Rejection(
                    dot: version.dot, reason: .revoked,
                    message: "Refused: replica \(version.dot.replica.short) was revoked, and this version lies above the last one the hub admitted before (\(horizon)).",
                    quarantined: false))
            return true
        }
        if let first = rejections.first {
            logger.warning(
                "refused versions of a revoked device",
                metadata: ["sync.refusedRevoked": "\(rejections.count)", "sync.firstRevoked": "\(first.dot)"])
        }
        return rejections
    }

    /// The ids of `asked` whose certificates `device` may be given: the hub's, the device's own
    /// (its enrolled id and incarnations), and authors of a version within its read scope. Any
    /// other id is left out, as an unknown one is: a device learns no name or key of an author it
    /// can never read, whatever ids it gathered from version vectors.
    func certifiable(_ asked: Set<ReplicaID>, to device: DeviceRecord?) async throws -> Set<ReplicaID> {
        let own = Set([hubID] + (device.map { [$0.replicaID] + $0.incarnations } ?? []))
        let others = asked.subtracting(own)
        let readable = others.isEmpty
            ? [] : try await storage.authors(among: others, within: device?.grants.read ?? .everything)
        return asked.intersection(own).union(readable)
    }

    /// `request` as the answer sees it: with only the origins whose counters `device` may learn.
    /// Those are the origins ``certifiable(_:to:)`` gives it (the hub's id, its own, authors of a
    /// version within its read scope) and the origins of versions it pushed that passed the
    /// signature check (it holds a version of theirs). Assumed origins and pushed ones whose every
    /// version was a forgery or refused as revoked (`push`'s rejections) are left out otherwise,
    /// as origins the hub holds nothing of are: neither `assumedKnowledge` nor a forged push is an
    /// oracle of how many versions the hub holds of an id a seized device gathered (from logs,
    /// bundles or contexts). A client holding genuine versions of such an origin learns the hub's
    /// counter by pushing them. A device reading everything, and a request without a device, are
    /// answered every origin.
    func answerable(_ request: SyncRequest, push: PushOutcome, from device: DeviceRecord?) async throws -> SyncRequest {
        guard let device, device.grants.read != .everything else { return request }
        let unproven = Set(
            push.rejected.lazy.filter { [.badSignature, .revoked].contains($0.reason) && $0.origin != request.replica }.map(\.dot))
        let proven = Set(request.push.lazy.filter { !unproven.contains($0.dot) }.map(\.dot.replica))
        var doubtful = Set(request.push.map(\.dot.replica))
        if let assumed = request.assumedKnowledge { doubtful.formUnion(assumed.entries.keys) }
        doubtful.subtract(proven)
        guard !doubtful.isEmpty else { return request }
        let answerable = try await certifiable(doubtful, to: device).union(proven)
        var answered = request
        answered.assumedKnowledge = request.assumedKnowledge.map { VersionVector($0.entries.filter { answerable.contains($0.key) }) }
        answered.push.removeAll { !answerable.contains($0.dot.replica) }
        return answered
    }

    /// Attaches what the client needs to trust the page: the hub's certificates of the keys of its
    /// origins, the plain keys for older clients, and the hub's signed revocation notices unless
    /// the client holds the same horizons already (`revocationsHeld`, their digest). `horizons`
    /// are those the exchange's push read (nil: read them now); a revocation committed since then
    /// reaches the client with its next exchange, as one committed after this answer would.
    func attachTrust(
        to response: inout SyncResponse, revocationsHeld: String?, horizons read: [ReplicaID: UInt64]? = nil
    ) async throws {
        let origins = Set(response.versions.map(\.dot.replica))
        let certificates = try await devices.certificates(of: origins.union([hubID]))
        if !certificates.isEmpty {
            response.certificates = certificates
            response.keys = DeviceKeyDirectory(
                Dictionary(certificates.filter { origins.contains($0.replica) }.map { ($0.replica, $0.publicKey) }) { first, _ in first })
        } else {
            let keys = try await devices.keys(of: origins)
            if !keys.isEmpty { response.keys = DeviceKeyDirectory(keys) }
        }
        let horizons: [ReplicaID: UInt64]
        if let read { horizons = read } else { horizons = try await devices.revocationHorizons() }
        guard !horizons.isEmpty, RevocationNotice.digest(of: horizons) != revocationsHeld else { return }
        let revocations = try await devices.revocationNotices()
        if !revocations.isEmpty { response.revocations = revocations }
    }

    /// Why `version`'s body is not a valid record of its collection (the quarantine reason), or
    /// nil when it is one (or is a tombstone).
    static func recordProblem(of version: Version, maxRecordBytes: Int) -> SetAsideReason? {
        guard let body = version.body else { return nil }
        do {
            let check = try RecordCatalog.validate(collection: version.collection, body: body, maximumSize: maxRecordBytes)
            if let implied = check.partition, implied != version.partition {
                return SetAsideReason(.invalidRecord, "invalid record: it is filed under partition '\(version.partition)' but its region is '\(implied)'")
            }
            return nil
        } catch let error as SyncEngineError {
            return SetAsideReason(.invalidRecord, "invalid record: \(error.message)")
        } catch {
            return SetAsideReason(.invalidRecord, "invalid record: the body cannot be read")
        }
    }

    /// The pushed versions whose signature fails against their origin's enrolled key (or whose
    /// origin has none), with the reason: `own` are the pusher's own versions (quarantined in
    /// place), `foreign` claim another origin (a forgery, or a relay of a bad version): they are
    /// kept apart so that they never take that origin's dot. With no `pusher` (no credential backs
    /// the push's replica) every such version is foreign.
    func verifySignatures(
        of push: [Version], pushedBy pusher: ReplicaID?, keys enrolled: [ReplicaID: PublicDeviceKey]
    ) async throws -> (own: [Dot: SetAsideReason], foreign: [(version: Version, reason: SetAsideReason)]) {
        let keys = try await withHubWriters(push, enrolled)
        let invalid = await SignatureCheck.failures(of: push, keys: keys)
        var own: [Dot: SetAsideReason] = [:]
        var foreign: [(version: Version, reason: SetAsideReason)] = []
        for version in push {
            let origin = version.dot.replica
            let reason: SetAsideReason
            if keys[origin] != nil {
                if !invalid.contains(version.dot) { continue }
                reason = SetAsideReason(
                    .badSignature, "bad signature: \(version.dot) does not verify against the enrolled key of replica \(origin.short)")
            } else {
                reason = SetAsideReason(
                    .badSignature, "bad signature: unknown origin \(origin.short), no device of that id is enrolled at this hub")
            }
            if origin == pusher {
                own[version.dot] = reason
            } else {
                foreign.append((version, reason))
            }
        }
        return (own, foreign)
    }

    /// The enrolled `keys` of the push's origins, and the hub's own key for origins that no device
    /// holds but whose versions verify against it: writer ids of the hub's earlier processes, which
    /// a hub restored from a backup forgot. They are recorded as the hub's writers again.
    func withHubWriters(_ push: [Version], _ keys: [ReplicaID: PublicDeviceKey]) async throws -> [ReplicaID: PublicDeviceKey] {
        var keys = keys
        let unknown = push.filter { keys[$0.dot.replica] == nil }
        guard !unknown.isEmpty else { return keys }
        let hubKey = storage.hubKey
        let candidates = Dictionary(unknown.map { ($0.dot.replica, hubKey) }) { first, _ in first }
        let failing = await SignatureCheck.failures(of: unknown, keys: candidates)
        // An origin is the hub's writer only if every pushed version of it verifies against the hub key.
        let writers = Set(unknown.map(\.dot.replica)).subtracting(failing.map(\.replica))
        try await devices.recordHubWriters(writers)
        for writer in writers { keys[writer] = hubKey }
        return keys
    }

    static func rejections(forks: [Dot], quarantined: [Dot: SetAsideReason]) -> [Rejection] {
        var rejections = forks.map { dot in
            Rejection(
                dot: dot, reason: .fork,
                message: "The hub already holds \(dot) with another signature: replica \(dot.replica.short) has forked, and nothing of it from counter \(dot.counter) on was taken.",
                quarantined: false)
        }
        for (dot, reason) in quarantined { rejections.append(quarantineRejection(dot, reason)) }
        return rejections
    }

    /// What a pusher is told of a version the hub quarantined for `reason`. An implausible
    /// context is told without its detail, which names the hub's counter of the origin claimed
    /// (any id, in one request); operators see the detail with the quarantined version.
    static func quarantineRejection(_ dot: Dot, _ reason: SetAsideReason) -> Rejection {
        if reason.code == .implausibleContext {
            return Rejection(
                dot: dot, reason: reason.rejection,
                message: "Quarantined: implausible context: its context names versions the hub does not hold.",
                quarantined: true)
        }
        let detail = reason.detail.hasSuffix(".") ? String(reason.detail.dropLast()) : reason.detail
        return Rejection(dot: dot, reason: reason.rejection, message: "Quarantined: \(detail).", quarantined: true)
    }

    static func describe(_ versions: ClosedRange<Int>) -> String {
        versions.count == 1 ? "version \(versions.lowerBound)" : "versions \(versions.lowerBound) to \(versions.upperBound)"
    }
}
