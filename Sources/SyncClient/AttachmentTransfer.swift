import Foundation
public import Logging
public import ReplicaStore
import SyncEngine

/// Moves attachment chunks between a replica and its hub after the documents (text first):
/// uploads the files attached here that the hub lacks, then downloads the attachments the
/// replica's documents name, within the device's media policy (or those asked for on demand).
///
/// Every chunk is its own request and its own transaction, checked against its SHA-256 before it
/// is kept, so a cut link costs at most the chunk in flight: the next run asks what is still
/// lacked and goes on from the last whole chunk. A chunk refused (by the hub, or failing its
/// hash here) is sent or fetched once more, then the attachment waits for a later run.
public struct AttachmentTransfer: Sendable {
    /// What one run moved.
    public struct Report: Sendable, Hashable {
        public var uploaded = 0
        public var downloaded = 0
        public var chunksSent = 0
        public var chunksReceived = 0
        public var bytesSent = 0
        public var bytesReceived = 0
        /// Attachments the device's media policy leaves to be fetched on demand.
        public var withheld = 0
        /// Attachments the hub holds no whole file of that this device may read.
        public var notOnHub: [String] = []
        /// Attachments the hub refused (size, quota) or that failed their checks; the others went on.
        public var refused: [AttachmentTransferError] = []
        /// Whether the run stopped because the byte budget was spent (what is left waits).
        public var budgetSpent = false

        /// Bytes moved both ways.
        public var bytesMoved: Int { bytesSent + bytesReceived }

        public init() {}
    }

    public let store: ReplicaStore
    public let transport: any AttachmentTransport
    /// The most bytes (both ways, on the wire) the run may move; nil for no bound. No chunk is
    /// started that would pass it, so the run ends with what is left waiting for the next one.
    public let byteBudget: Int?
    let logger: Logger

    public init(store: ReplicaStore, transport: any AttachmentTransport, byteBudget: Int? = nil, logger: Logger) {
        self.store = store
        self.transport = transport
        self.byteBudget = byteBudget.map { max(0, $0) }
        self.logger = logger
    }

    /// Whether moving `bytes` more (a chunk and its request's overhead) stays within the budget;
    /// marks the report when it does not.
    private func affords(_ bytes: Int, _ report: inout Report) -> Bool {
        guard let byteBudget else { return true }
        if report.bytesMoved + bytes + Self.requestOverhead <= byteBudget { return true }
        report.budgetSpent = true
        return false
    }

    /// About what one chunk request adds to its bytes on the wire (request and answer heads).
    static let requestOverhead = 600

    /// Uploads what the hub lacks, then downloads within the media policy.
    public func run() async throws -> Report {
        var report = Report()
        try await upload(&report)
        try await download(&report, only: nil)
        return report
    }

    /// Downloads `hashes` now, whatever the media policy (`fieldcli attachments fetch`).
    public func fetch(_ hashes: [String]) async throws -> Report {
        var report = Report()
        try await download(&report, only: hashes)
        return report
    }

    // MARK: - Upload

    private func upload(_ report: inout Report) async throws {
        var done = Set<String>()
        for _ in 0..<100 {
            let waiting = try store.attachmentsToSend().filter { !done.contains($0.sha256) }
            guard !waiting.isEmpty else { return }
            for manifest in waiting {
                guard !report.budgetSpent else { return }
                done.insert(manifest.sha256)
                do {
                    if try await send(manifest, &report) {
                        try store.markAttachmentSent(manifest.sha256)
                        report.uploaded += 1
                    }
                } catch let refusal as AttachmentTransferError {
                    logger.notice(
                        "attachment refused by the hub",
                        metadata: ["sync.attachment": "\(manifest.sha256)", "sync.problem": "\(refusal.code)"])
                    try store.markAttachmentRefused(manifest.sha256, problem: refusal.code.description, limit: refusal.limit)
                    report.refused.append(refusal)
                }
            }
        }
    }

    /// Offers `manifest` and sends the chunks the hub lacks; whether the hub holds it whole now.
    private func send(_ manifest: AttachmentManifest, _ report: inout Report) async throws -> Bool {
        guard affords(manifest.chunks.count * 70, &report) else { return false }
        let offer = try await transport.offerAttachment(manifest)
        report.count(offer)
        var complete = offer.value.missing.isEmpty
        for index in offer.value.missing where manifest.chunks.indices.contains(index) {
            try Task.checkCancellation()
            guard affords(manifest.length(ofChunk: index), &report) else { return false }
            guard let data = try store.chunk(manifest.chunks[index]), manifest.accepts(data, asChunk: index) else {
                throw AttachmentTransferError(
                    .mismatch, sha256: manifest.sha256,
                    "Chunk \(index) of the attachment \(manifest.sha256.prefix(12)) is missing or damaged in this replica.")
            }
            let receipt: Metered<ChunkReceipt>
            do {
                receipt = try await transport.uploadChunk(data, index: index, of: manifest.sha256)
            } catch let refusal as AttachmentTransferError where refusal.code == .chunkRefused {
                // Damaged on the way: sent once more.
                receipt = try await transport.uploadChunk(data, index: index, of: manifest.sha256)
            }
            report.count(receipt)
            report.chunksSent += 1
            complete = receipt.value.complete
        }
        return complete
    }

    // MARK: - Download

    private func download(_ report: inout Report, only: [String]?) async throws {
        var asked = Set<String>()
        for _ in 0..<100 where !report.budgetSpent {
            let lacked: [String]
            if let only {
                let holdings = try store.attachmentHoldings(only.filter { !asked.contains($0) })
                lacked = Array(only.filter { holdings[$0] != .held && !asked.contains($0) }.prefix(ManifestsRequest.maximumCount))
            } else {
                lacked = try store.attachmentsLacked(excluding: asked)
            }
            guard !lacked.isEmpty else { return }
            asked.formUnion(lacked)
            let answer = try await transport.attachmentManifests(ManifestsRequest(attachments: lacked, onDemand: only != nil))
            report.count(answer)
            report.withheld += answer.value.unavailable.filter { $0.reason == "withheld" }.count
            report.notOnHub += answer.value.unavailable.filter { $0.reason != "withheld" }.map(\.sha256)
            for manifest in answer.value.manifests where lacked.contains(manifest.sha256) && manifest.isWellFormed {
                guard !report.budgetSpent else { return }
                do {
                    try await receive(manifest, &report)
                } catch let refusal as AttachmentTransferError {
                    report.refused.append(refusal)
                }
            }
        }
    }

    /// Fetches the chunks of `manifest` this replica lacks, each checked before it is kept; first
    /// its size against the sizes the documents naming it give (what their authors signed): a
    /// hub's manifest could otherwise claim up to 1 TiB of chunks of its own making, kept until
    /// the whole is checked at the end, and fill the device's disk.
    private func receive(_ manifest: AttachmentManifest, _ report: inout Report) async throws {
        let declared = try store.declaredSizes(of: manifest.sha256)
        guard declared.isEmpty || declared.contains(manifest.size) else {
            throw AttachmentTransferError(
                .mismatch, sha256: manifest.sha256,
                "The hub's manifest of the attachment \(manifest.sha256.prefix(12)) claims \(manifest.size) bytes; the documents naming it say \(declared.sorted().map(String.init).joined(separator: " or ")). Nothing of it was fetched.")
        }
        try store.saveAttachmentManifest(manifest)
        for index in try store.missingChunks(of: manifest) {
            try Task.checkCancellation()
            guard affords(manifest.length(ofChunk: index), &report) else { return }
            var data = try await transport.downloadChunk(index, of: manifest.sha256)
            report.count(data)
            if !manifest.accepts(data.value, asChunk: index) {
                // Damaged on the way: fetched once more.
                data = try await transport.downloadChunk(index, of: manifest.sha256)
                report.count(data)
                guard manifest.accepts(data.value, asChunk: index) else {
                    throw AttachmentTransferError(
                        .chunkRefused, sha256: manifest.sha256,
                        "Chunk \(index) of the attachment \(manifest.sha256.prefix(12)) did not match its SHA-256 twice; it was not kept.")
                }
            }
            try store.storeChunk(data.value, hash: manifest.chunks[index])
            report.chunksReceived += 1
        }
        guard try store.completeAttachment(manifest.sha256) else {
            throw AttachmentTransferError(
                .mismatch, sha256: manifest.sha256,
                "The attachment \(manifest.sha256.prefix(12)) did not match its SHA-256 once whole; its manifest was dropped.")
        }
        report.downloaded += 1
    }
}

extension AttachmentTransfer.Report {
    mutating func count<Value>(_ metered: Metered<Value>) {
        bytesSent += metered.bytesSent
        bytesReceived += metered.bytesReceived
    }
}
