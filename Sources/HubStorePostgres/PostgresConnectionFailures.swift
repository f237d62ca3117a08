import Foundation
public import Logging
import Synchronization

/// What a PostgreSQL connection pool's failed attempts to connect said: PostgresNIO retries them
/// without end and reports them only to its background logger, so this records them from there
/// (``recording(_:)``) for ``PostgresHub/reachable(_:within:logger:failures:)`` to name.
public final class PostgresConnectionFailures: Sendable {
    private let last = Mutex<String?>(nil)

    public init() {}

    /// `logger`, recording every "Connection creation failed" its pool reports before passing it on.
    public func recording(_ logger: Logger) -> Logger {
        var recording = logger
        recording.handler = RecordingHandler(base: logger.handler, failures: self)
        return recording
    }

    /// The last failed attempt's error, as PostgresNIO describes it (never a password).
    public var lastFailure: String? { last.withLock { $0 } }

    /// The last failed attempt in a few words for people: what the server said when it refused
    /// (its message and SQLSTATE), or what became of the connection; nil when none failed.
    public var lastFailureSummary: String? {
        lastFailure.map(Self.summary(of:))
    }

    /// `failure` (PostgresNIO's description of a failed attempt) in a few words.
    static func summary(of failure: String) -> String {
        if let message = field("message", in: failure) {
            let state = field("sqlState", in: failure).map { " (SQLSTATE \($0))" } ?? ""
            return "the server refused it: \(message)\(state)"
        }
        let causes = [
            ("Connection refused", "the connection was refused (nothing listens at that host and port)"),
            ("timed out", "the connection timed out"), ("Timeout", "the connection timed out"),
            ("resolve", "the host name did not resolve"), ("Name or service not known", "the host name did not resolve"),
        ]
        return causes.first { failure.contains($0.0) }?.1 ?? "the connection failed"
    }

    /// The value of `name` in PostgresNIO's `serverInfo: [name: value, ...]` description.
    private static func field(_ name: String, in failure: String) -> String? {
        guard let start = failure.range(of: "\(name): ") else { return nil }
        let rest = failure[start.upperBound...]
        let known = [", routine:", ", file:", ", line:", ", localizedSeverity:", ", severity:", ", sqlState:", ", detail:", ", hint:", "]"]
        let end = known.compactMap { rest.range(of: $0)?.lowerBound }.min() ?? rest.endIndex
        let value = rest[..<end].trimmingCharacters(in: .whitespaces)
        return value.isEmpty ? nil : value
    }

    /// ``PostgresStoreError/Code/tlsRefused`` when the last attempt failed in its TLS handshake or
    /// because the server offers no TLS; nil otherwise.
    var tlsRefusal: PostgresStoreError? {
        guard let failure = lastFailure else { return nil }
        if failure.contains("sslUnsupported") {
            return PostgresStoreError(
                .tlsRefused, "The PostgreSQL server does not offer TLS, which the address's sslmode asks for.")
        }
        let handshake = ["NIOSSLError", "NIOSSLExtraError", "BoringSSLError", "failedToAddSSLHandler"]
        guard handshake.contains(where: failure.contains) else { return nil }
        return PostgresStoreError(
            .tlsRefused,
            "The PostgreSQL server's TLS certificate was refused: it does not chain to the trusted roots (sslrootcert, else the system's) or does not name the host.")
    }

    fileprivate func record(_ failure: String) {
        last.withLock { $0 = failure }
    }

    private struct RecordingHandler: LogHandler {
        var base: any LogHandler
        let failures: PostgresConnectionFailures

        /// At most `.info`, the level PostgresNIO reports a failed attempt at; what is below the
        /// base handler's own level is recorded, not passed on.
        var logLevel: Logger.Level {
            get { min(base.logLevel, .info) }
            set { base.logLevel = newValue }
        }

        var metadata: Logger.Metadata {
            get { base.metadata }
            set { base.metadata = newValue }
        }

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { base[metadataKey: key] }
            set { base[metadataKey: key] = newValue }
        }

        func log(event: LogEvent) {
            if event.message.description == "Connection creation failed", let error = event.metadata?["psql_error"] {
                failures.record(error.description)
            }
            if event.level >= base.logLevel { base.log(event: event) }
        }
    }
}
