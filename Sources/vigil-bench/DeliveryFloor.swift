import Foundation
import GRDB

/// The floor of the hub's delivery rate: what one process does at best to send versions, with no
/// HTTP, no checks and no protocol: read the rows from the hub's file in feed order and gzip
/// their bytes, page by page.
enum DeliveryFloor {
    /// Versions per second of reading and gzipping `versions` rows of the file at `hubPath`, in
    /// pages of `perAnswer` rows (passing over the feed again from its start as often as needed).
    static func rate(hubPath: String, versions: Int, perAnswer: Int) throws -> Double {
        let queue = try DatabaseQueue(path: hubPath, configuration: readOnly)
        let sql = """
            SELECT seq, origin, counter, collection, document_id, partition, context, body, clock_wall, clock_logical, signature
            FROM versions WHERE seq > ? ORDER BY seq LIMIT ?
            """
        let start = MonotonicClock.now()
        var done = 0
        var after: Int64 = 0
        while done < versions {
            let (page, last) = try queue.read { db in try Self.page(db, sql: sql, after: after, limit: perAnswer) }
            guard page.count > 0 else {
                guard after > 0 else { break }
                after = 0
                continue
            }
            _ = try SyncTools.gzipSize(page.bytes)
            done += page.count
            after = last
        }
        let seconds = MonotonicClock.now() - start
        return seconds > 0 ? Double(done) / seconds : 0
    }

    private static var readOnly: Configuration {
        var configuration = Configuration()
        configuration.readonly = true
        return configuration
    }

    /// One page's bytes (every column of every row, as stored), how many rows, and the last
    /// row's sequence.
    private static func page(_ db: Database, sql: String, after: Int64, limit: Int) throws -> ((bytes: Data, count: Int), Int64) {
        var bytes = Data()
        var count = 0
        var last = after
        let rows = try Row.fetchCursor(db, sql: sql, arguments: [after, limit])
        while let row = try rows.next() {
            last = row[0]
            for index in 1..<row.count {
                switch (row[index] as DatabaseValue).storage {
                case .blob(let data): bytes.append(data)
                case .string(let text): bytes.append(contentsOf: text.utf8)
                case .int64(let number): withUnsafeBytes(of: number) { bytes.append(contentsOf: $0) }
                case .double(let number): withUnsafeBytes(of: number) { bytes.append(contentsOf: $0) }
                case .null: break
                }
            }
            count += 1
        }
        return ((bytes, count), last)
    }
}
