import Foundation
public import SyncEngine
import GRDB

extension Rows {
    /// A version read with `versionColumns` followed by `receipt`, carrying its receipt.
    static func versionWithReceipt(_ row: Row) throws -> Version {
        var version = try version(row)
        version.receipt = (row["receipt"] as Data?).flatMap(AdmissionReceipt.init(bytes:))
        return version
    }
}

extension ApplyContext {
    /// Keeps the hub's receipts of `replica`'s own versions (``SyncResponse/receipts``, by counter
    /// in decimal), at most `limit` of them (the versions the request pushed); entries naming no
    /// version held here change nothing.
    public func keepReceipts(_ receipts: [String: AdmissionReceipt]?, of replica: ReplicaID, limit: Int) throws {
        guard let receipts, !receipts.isEmpty else { return }
        let statement = try db.cachedStatement(sql: "UPDATE versions SET receipt = ? WHERE origin = ? AND counter = ?")
        for (counter, receipt) in receipts.prefix(limit) {
            guard let counter = UInt64(counter), counter <= Dot.maxCounter else { continue }
            try statement.execute(arguments: [receipt.bytes, replica.hex, Int64(counter)])
        }
    }
}
