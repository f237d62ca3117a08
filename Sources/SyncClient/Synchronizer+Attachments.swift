import Logging
import ReplicaStore

extension Synchronizer {
    /// After every document went both ways: the attachment chunks each side lacks
    /// (``AttachmentTransfer``), when the transport carries them. What the hub refused is recorded
    /// in the replica (``ReplicaStore/refusedAttachments()``); a cut link throws like the exchange.
    func transferAttachments(summary: inout SyncSummary) async throws {
        // What the documents forgotten in this sync (a narrowed read scope) named goes with them.
        try store.eraseUnnamedAttachments()
        guard let transport = transport as? any AttachmentTransport, !summary.budgetSpent else { return }
        let report = try await AttachmentTransfer(
            store: store, transport: transport, byteBudget: configuration.remaining(after: summary), logger: logger
        ).run()
        summary.bytesSent += report.bytesSent
        summary.bytesReceived += report.bytesReceived
        if report.budgetSpent { summary.budgetSpent = true }
        // Delete after receipt: the files the hub now confirmed, of bodies already dropped, go too.
        if report.uploaded > 0 { try store.dropAcknowledgedBodies() }
        logger.info(
            "attachments moved",
            metadata: [
                "sync.peer": "\(peer)", "sync.attachmentsUploaded": "\(report.uploaded)",
                "sync.attachmentsDownloaded": "\(report.downloaded)", "sync.chunksSent": "\(report.chunksSent)",
                "sync.chunksReceived": "\(report.chunksReceived)", "sync.attachmentsRefused": "\(report.refused.count)",
            ])
    }
}
