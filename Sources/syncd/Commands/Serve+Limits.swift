import ArgumentParser
import SyncHub

extension Syncd.Serve {
    /// The hub's limits as flags; an absent flag keeps the environment's value, else the default.
    struct LimitOptions: ParsableArguments {
        @Option(name: .long, help: "Largest request body on the wire, in bytes (default 8 MiB).")
        var maxRequestBytes: Int?
        @Option(name: .long, help: "Largest request body once gunzipped, in bytes (default 64 MiB).")
        var maxDecompressedBytes: Int?
        @Option(name: .long, help: "Most versions per push (default 5000).")
        var maxPushVersions: Int?
        @Option(name: .long, help: "Largest record body, in bytes; a larger one is quarantined (default 1 MiB).")
        var maxRecordBytes: Int?
        @Option(name: .long, help: "Most entries in one version vector (default 4096).")
        var maxVectorEntries: Int?
        @Option(name: .long, help: "Deepest nesting of arrays and objects in a record body (default 64).")
        var maxBodyDepth: Int?
        @Option(name: .long, help: "Deepest nesting of arrays and objects in a request (default 32).")
        var maxRequestDepth: Int?
        @Option(name: .long, help: "Requests per device per minute; 0 for no limit (default 600).")
        var requestsPerMinute: Int?
        @Option(name: .long, help: "Enrollments the hub takes per minute, all devices together; 0 for no limit (default 30).")
        var enrollmentsPerMinute: Int?
        @Option(name: .long, help: "Most feed versions one pull looks at to fill a page (default 50000).")
        var maxScannedPerPage: Int?

        private var values: [(name: String, value: Int?, path: WritableKeyPath<HubConfiguration.Limits, Int>)] {
            [
                ("--max-request-bytes", maxRequestBytes, \.maxRequestBytes),
                ("--max-decompressed-bytes", maxDecompressedBytes, \.maxDecompressedBytes),
                ("--max-push-versions", maxPushVersions, \.maxPushVersions),
                ("--max-record-bytes", maxRecordBytes, \.maxRecordBytes),
                ("--max-vector-entries", maxVectorEntries, \.maxVectorEntries),
                ("--max-body-depth", maxBodyDepth, \.maxBodyDepth),
                ("--max-request-depth", maxRequestDepth, \.maxRequestDepth),
                ("--requests-per-minute", requestsPerMinute, \.requestsPerMinute),
                ("--enrollments-per-minute", enrollmentsPerMinute, \.enrollmentsPerMinute),
                ("--max-scanned-per-page", maxScannedPerPage, \.maxScannedPerPage),
            ]
        }

        func validate() throws {
            for (name, value, _) in values {
                if let value, value < (name.hasSuffix("-per-minute") ? 0 : 1) {
                    throw ValidationError("\(name) takes a positive number.")
                }
            }
        }

        func apply(to limits: inout HubConfiguration.Limits) {
            for (_, value, path) in values {
                if let value { limits[keyPath: path] = value }
            }
        }
    }
}
