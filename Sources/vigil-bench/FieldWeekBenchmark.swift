import Foundation
import HubStore
import HubStoreSQLite
import ReplicaStore
import SyncEngine

/// Issue 13's field week: one observer's week of 50 observations and 20 photos of about 2 MB
/// (incompressible bytes), written day by day and synced each evening with the `fieldcli sync`
/// process against the `syncd serve` process, over a link (the ``CountingProxy``) cut 5 times at
/// seeded random points of the week's traffic; a cut sync is run again, as the observer (or
/// `syncd run`) would. Every byte both ways is counted, cut requests included, next to gzip of
/// the 50 reports' bodies + the photos' bytes + 80 B per version. Then the same week recorded
/// offline and sent over two days, `fieldcli sync --budget 10MB` on the first and a plain sync on
/// the second. Each run ends by checking the hub holds every report and every photo, by hash.
struct FieldWeekBenchmark: Benchmark {
    let name = "field-week"
    let estimatedSeconds = 120

    /// What day 1 of the budget variant may move, both ways (`--budget 10MB`).
    static let dayBudget = 10_000_000

    func run(in context: BenchmarkContext) throws -> [Figure] {
        guard let syncd = context.syncd else {
            throw BenchError(.tool, "The field-week benchmark needs --syncd (the syncd binary).")
        }
        let week = try FieldWeek(seed: context.seed &+ 13)
        context.log("field week: \(week.reports) reports, \(week.photos.count) photos of \(week.photoBytes) bytes in all")
        let cut = try cutWeek(week, syncd: syncd, context: context)
        let budget = try budgetWeek(week, syncd: syncd, context: context)
        return cut.figures(week: week) + budget.figures(reference: cut.reference)
    }

    // MARK: - The week with cuts

    struct CutWeek {
        var counts = CountingProxy.Counts()
        var cutPoints: [Int] = []
        /// Per day: `fieldcli sync` runs and how many of them the cut ended.
        var runs: [(runs: Int, failed: Int)] = []
        var seconds = 0.0
        /// gzip of the bodies + the photos' bytes + 80 B per version (``FieldWeek/referenceBytes(of:)``).
        var reference = 0

        func figures(week: FieldWeek) -> [Figure] {
            let perDay = runs.enumerated().map { "day \($0.offset + 1): \($0.element.runs)" + ($0.element.failed > 0 ? " (\($0.element.failed) cut)" : "") }
            return [
                Figure(
                    id: "field-week-bytes",
                    title: "one observer's week (\(week.reports) reports, \(week.photos.count) photos of about 2 MB) synced daily over a link cut \(counts.cuts) times: bytes on the wire",
                    unit: "bytes", better: .lower,
                    measured: .init(name: "bytes both ways over every `fieldcli sync` run of the week, cut ones included, counted by the proxy", samples: Samples([Double(counts.bytes)]), withP90: false),
                    reference: .init(name: "gzip of the \(week.reports) bodies + the photos' bytes + 80 B per version", samples: Samples([Double(reference)]), withP90: false),
                    targetRatio: 1.05,
                    notes: [
                        "\(counts.bytesUp) bytes up + \(counts.bytesDown) down; \(counts.requests) requests, \(counts.connections) connections, \(String(format: "%.1f", seconds)) s of syncing",
                        "cut at \(cutPoints.map(String.init).joined(separator: ", ")) bytes of the week's traffic (seeded, uniform over the photos' bytes)",
                        "fieldcli sync runs per day: \(perDay.joined(separator: ", "))",
                        "the hub holds every report (by dot and body) and every photo (whole, by SHA-256) at the end",
                    ]),
            ]
        }
    }

    private func cutWeek(_ week: FieldWeek, syncd: String, context: BenchmarkContext) throws -> CutWeek {
        let link = try FieldLink(name: "field-week", syncd: syncd, context: context)
        defer { link.stop() }
        var result = CutWeek()
        var generator = SplitMix64(seed: context.seed &+ 17)
        result.cutPoints = (0..<5).map { _ in Int(Double(week.photoBytes) * (0.01 + 0.98 * Double(generator.next() % 1_000_000) / 1_000_000)) }
            .sorted()
        link.proxy.reset()
        link.proxy.armCuts(atTotals: result.cutPoints)
        var written: [Written] = []
        for day in week.days.indices {
            written += try week.write(day: day, into: link.replica)
            var runs = 0
            var failed = 0
            while true {
                runs += 1
                guard runs <= 12 else {
                    throw BenchError(.verification, "Day \(day + 1)'s sync did not finish in 12 runs.")
                }
                let cutsBefore = link.proxy.snapshot().cuts
                do {
                    let run = try SyncTools.sync(replica: link.replica, hub: link.url, token: link.token, context: context)
                    result.seconds += run.cost.seconds
                    break
                } catch let error as BenchError where error.code == .tool && link.proxy.snapshot().cuts > cutsBefore {
                    // The link dropped under this run: the next run goes on from there.
                    failed += 1
                }
            }
            result.runs.append((runs, failed))
            let counts = link.proxy.snapshot()
            context.log("field week, day \(day + 1): \(runs) run(s), \(failed) cut; \(counts.bytes) bytes so far, \(counts.cuts) cut(s)")
        }
        result.counts = link.proxy.snapshot()
        guard result.counts.cuts == result.cutPoints.count else {
            throw BenchError(.verification, "The link was cut \(result.counts.cuts) times, not \(result.cutPoints.count).")
        }
        try link.checkHubHolds(written, week: week)
        result.reference = try week.referenceBytes(of: written)
        context.log("field week: \(result.counts.bytes) bytes both ways (reference \(result.reference)), every report and photo at the hub")
        return result
    }

    // MARK: - The week on a budget

    struct BudgetWeek {
        var days: [CountingProxy.Counts] = []
        var reportsAfterDayOne = 0
        var photosAfterDayOne = 0
        var reports = 0
        var photos = 0

        func figures(reference: Int) -> [Figure] {
            guard days.count == 2 else { return [] }
            let total = days[0].bytes + days[1].bytes
            let split = "day 1 (`fieldcli sync --budget 10MB`): \(days[0].bytes) bytes (\(days[0].bytesUp) up + \(days[0].bytesDown) down, \(days[0].requests) requests); day 2 (`fieldcli sync`): \(days[1].bytes) bytes (\(days[1].bytesUp) up + \(days[1].bytesDown) down, \(days[1].requests) requests)"
            let first = "after day 1 the hub held \(reportsAfterDayOne) of \(reports) reports and \(photosAfterDayOne) of \(photos) photos whole; after day 2 all, checked by dot, body and SHA-256"
            return [
                Figure(
                    id: "field-week-budget-bytes", title: "the same week recorded offline, sent over two days with a 10 MB budget on the first: bytes on the wire",
                    unit: "bytes", better: .lower,
                    measured: .init(name: "bytes both ways over both days, counted by the proxy", samples: Samples([Double(total)]), withP90: false),
                    reference: .init(name: "gzip of the bodies + the photos' bytes + 80 B per version", samples: Samples([Double(reference)]), withP90: false),
                    targetRatio: 1.05, notes: [split, first]),
                Figure(
                    id: "field-week-budget-day1", title: "day 1 of the budgeted week: bytes on the wire next to the budget",
                    unit: "bytes", better: .lower,
                    measured: .init(name: "bytes both ways on day 1, counted by the proxy", samples: Samples([Double(days[0].bytes)]), withP90: false),
                    reference: .init(name: "the budget: 10 MB (10,000,000 bytes)", samples: Samples([Double(FieldWeekBenchmark.dayBudget)]), withP90: false),
                    targetRatio: 1, notes: ["a limit rather than a measured reference: met when within the budget", first]),
            ]
        }
    }

    private func budgetWeek(_ week: FieldWeek, syncd: String, context: BenchmarkContext) throws -> BudgetWeek {
        let link = try FieldLink(name: "field-budget", syncd: syncd, context: context)
        defer { link.stop() }
        var written: [Written] = []
        for day in week.days.indices { written += try week.write(day: day, into: link.replica) }
        var result = BudgetWeek(reports: written.count, photos: week.photos.count)
        for (day, extra) in [["--budget", "10MB"], []].enumerated() {
            link.proxy.reset()
            _ = try SyncTools.sync(replica: link.replica, hub: link.url, token: link.token, context: context, extraArguments: extra)
            result.days.append(link.proxy.snapshot())
            if day == 0 {
                (result.reportsAfterDayOne, result.photosAfterDayOne) = try link.hubHolds(written, week: week)
                // Documents first: 10 MB is far more than the reports, so all of them went on day 1.
                guard result.reportsAfterDayOne == written.count else {
                    throw BenchError(
                        .verification, "After day 1 of the budgeted week the hub holds \(result.reportsAfterDayOne) of \(written.count) reports; documents go before photos.")
                }
            }
            context.log("field week on a budget, day \(day + 1): \(result.days[day].bytes) bytes")
        }
        try link.checkHubHolds(written, week: week)
        return result
    }
}

/// A report written on the observer's device, and the photo it names.
struct Written {
    var version: Version
    var photo: Int?
}

/// The observer's week, drawn from a seed: which reports are written on which day and the photos.
struct FieldWeek {
    /// Per day: how many reports, and how many of them (the first) carry a photo.
    let days: [(reports: Int, photos: Int)] = [(8, 3), (7, 3), (7, 3), (7, 3), (7, 3), (7, 3), (7, 2)]
    /// The photos' bytes, in the order they are attached.
    let photos: [Data]
    private let bodies: [(body: Data, region: Partition)]

    var reports: Int { days.reduce(0) { $0 + $1.reports } }
    var photoBytes: Int { photos.reduce(0) { $0 + $1.count } }

    init(seed: UInt64) throws {
        var generator = SplitMix64(seed: seed)
        var photos: [Data] = []
        for _ in 0..<days.reduce(0, { $0 + $1.photos }) {
            // About 2 MB: 1.9 to 2.1 million random bytes (a JPEG does not compress either).
            let size = 1_900_000 + Int(generator.next() % 200_001)
            var photo = Data(capacity: size + 8)
            while photo.count < size { withUnsafeBytes(of: generator.next()) { photo.append(contentsOf: $0) } }
            photos.append(photo.prefix(size))
        }
        self.photos = photos
        var corpus = try IncidentCorpus(seed: seed &+ 1)
        bodies = (0..<days.reduce(0) { $0 + $1.reports }).map { corpus.nextReport(index: $0) }
    }

    /// The index of the first report and of the first photo of `day`.
    private func start(of day: Int) -> (report: Int, photo: Int) {
        days.prefix(day).reduce((0, 0)) { ($0.0 + $1.reports, $0.1 + $1.photos) }
    }

    /// The body of report `index`, naming photo `photo` (its manifest) when given.
    private func body(_ index: Int, naming photo: (index: Int, manifest: AttachmentManifest)?) throws -> Data {
        var body = bodies[index].body
        if let photo {
            // `..."notes":"..."}` becomes `..."notes":"...","attachments":[...]}`.
            body.removeLast()
            body.append(Data(#","attachments":[{"sha256":"\#(photo.manifest.sha256)","filename":"photo-\#(photo.index + 1).jpg","mime":"image/jpeg","size_bytes":\#(photo.manifest.size)}]}"#.utf8))
        }
        try IncidentCorpus.check(body, region: bodies[index].region)
        return body
    }

    /// Writes day `day`'s reports (and stores their photos) in the replica at `path`.
    func write(day: Int, into path: String) throws -> [Written] {
        let store = try ReplicaStore.open(at: path)
        let (firstReport, firstPhoto) = start(of: day)
        guard let collection = CollectionName("observations") else { return [] }
        var written: [Written] = []
        for offset in 0..<days[day].reports {
            let index = firstReport + offset
            var photo: (index: Int, manifest: AttachmentManifest)?
            if offset < days[day].photos {
                let file = photos[firstPhoto + offset]
                var pieces = stride(from: 0, to: file.count, by: 1 << 20).map { file[$0..<min($0 + 1 << 20, file.count)] }[...]
                photo = (firstPhoto + offset, try store.storeAttachment { pieces.popFirst().map { Data($0) } })
            }
            let version = try store.write(WriteIntent(
                key: DocumentKey(collection: collection, id: DocumentID.generate()), partition: bodies[index].region,
                body: try body(index, naming: photo)))
            written.append(Written(version: version, photo: photo?.index))
        }
        return written
    }

    /// gzip of the bodies as written (each naming its photo) + the photos' bytes + 80 B per
    /// version (its 64-byte signature and 16-byte id, which do not compress), as the other figures.
    func referenceBytes(of written: [Written]) throws -> Int {
        var bodies = Data()
        for report in written { bodies.append(report.version.body ?? Data()) }
        return try SyncTools.gzipSize(bodies) + photoBytes + 80 * written.count
    }
}

/// A fresh hub (`syncd serve` on an empty file) behind a counting, cutting proxy, and an empty
/// replica enrolled with it.
final class FieldLink {
    let hubPath: String
    let replica: String
    let token: String
    let hub: HubProcess
    let proxy: CountingProxy
    var url: String { "http://127.0.0.1:\(proxy.port)" }

    init(name: String, syncd: String, context: BenchmarkContext) throws {
        hubPath = context.path("\(name)-hub.sqlite")
        replica = context.path("\(name)-observer.sqlite")
        context.removeDatabase(at: hubPath)
        context.removeDatabase(at: replica)
        _ = try ReplicaStore.createHub(at: hubPath)
        token = try SyncTools.enrolledReplica(at: replica, hubPath: hubPath)
        hub = try HubProcess(syncd: syncd, databasePath: hubPath, logPath: context.path("\(name)-hub.log"))
        do {
            proxy = try CountingProxy(targetPort: hub.port)
        } catch {
            hub.stop()
            throw error
        }
    }

    func stop() {
        proxy.stop()
        hub.stop()
    }

    /// How many of the reports the hub holds (by dot and body) and how many of their photos it
    /// holds whole, each chunk and the whole checked and the bytes equal to the photo's.
    func hubHolds(_ written: [Written], week: FieldWeek) throws -> (reports: Int, photos: Int) {
        let hub = try ReplicaStore.openHub(at: hubPath)
        var reports = 0
        var photos = 0
        for report in written {
            let siblings = try hub.document(report.version.key)?.siblings ?? []
            if siblings.contains(where: { $0.dot == report.version.dot && $0.body == report.version.body }) { reports += 1 }
            guard let index = report.photo else { continue }
            let expected = week.photos[index]
            var held = Data()
            if try hub.writeAttachment(AttachmentDigest.hex(of: expected), to: { held.append($0) }), held == expected {
                photos += 1
            }
        }
        return (reports, photos)
    }

    /// Throws unless the hub holds every report and every photo.
    func checkHubHolds(_ written: [Written], week: FieldWeek) throws {
        let (reports, photos) = try hubHolds(written, week: week)
        let expected = written.filter { $0.photo != nil }.count
        guard reports == written.count, photos == expected else {
            throw BenchError(
                .verification, "The hub holds \(reports) of \(written.count) reports and \(photos) of \(expected) photos at the end of the week.")
        }
    }
}
