import Foundation
import NIOSSL
public import PostgresNIO

extension PostgresClient.Configuration {
    /// The configuration of a `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?PARAMETERS]` address
    /// (also `postgresql://`; the password percent-encoded; port 5432 when absent).
    ///
    /// TLS follows libpq's parameters, stricter by default ("Think like an attacker": the hub's
    /// database holds every report and every device's credential hash):
    /// - `sslmode`: `disable`, `require` (encrypted, the certificate not checked), `verify-ca` (the
    ///   certificate chains to a trusted root) or `verify-full` (that, and it names the host).
    ///   `allow` and `prefer` are refused: a man in the middle could downgrade them to plain text.
    ///   Absent, `disable` for a loopback host (`localhost`, `127.0.0.0/8`, `::1`) and
    ///   `verify-full` for any other.
    /// - `sslrootcert`: a PEM file of the roots to trust (else the system's); only with
    ///   `verify-ca` or `verify-full`.
    ///
    /// Any other parameter is refused, so that a misspelt one never leaves a connection in plain text.
    public init(address: String) throws {
        guard let components = URLComponents(string: address),
            ["postgres", "postgresql"].contains(components.scheme ?? ""),
            let host = components.host, !host.isEmpty, let user = components.user, !user.isEmpty
        else {
            throw PostgresStoreError(
                .invalidAddress, "A PostgreSQL address is postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE.")
        }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty, !database.contains("/") else {
            throw PostgresStoreError(
                .invalidAddress,
                "A PostgreSQL address names its database after the host: postgres://USER@HOST/DATABASE.")
        }
        let security = try PostgresTransportSecurity(host: host, parameters: components.queryItems ?? [])
        self.init(
            host: host, port: components.port ?? 5432, username: user, password: components.password,
            database: database, tls: try security.tls())
    }
}

/// How a hub connects to PostgreSQL: in plain text or over TLS, and what it checks of the server's
/// certificate (the `sslmode` and `sslrootcert` of an address).
struct PostgresTransportSecurity: Equatable {
    enum Mode: String, CaseIterable {
        case disable
        case require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    let mode: Mode
    /// The PEM file of the roots to trust; nil: the system's.
    let rootCertificates: String?

    init(mode: Mode, rootCertificates: String? = nil) {
        self.mode = mode
        self.rootCertificates = rootCertificates
    }

    /// The security an address's `host` and query `parameters` ask for (see
    /// ``PostgresClient/Configuration/init(address:)``).
    init(host: String, parameters: [URLQueryItem]) throws {
        var mode: Mode?
        var root: String?
        for item in parameters {
            let value = item.value ?? ""
            switch item.name {
            case "sslmode" where mode == nil:
                guard let chosen = Mode(rawValue: value) else {
                    throw PostgresStoreError(
                        .invalidAddress,
                        "A PostgreSQL address's sslmode is disable, require, verify-ca or verify-full (not '\(value)'; allow and prefer could be downgraded to plain text).")
                }
                mode = chosen
            case "sslrootcert" where root == nil && !value.isEmpty:
                root = value
            default:
                throw PostgresStoreError(
                    .invalidAddress,
                    "A PostgreSQL address takes only the parameters sslmode and sslrootcert, each once (not '\(item.name)').")
            }
        }
        let resolved = mode ?? (Self.isLoopback(host) ? .disable : .verifyFull)
        if root != nil, resolved != .verifyCA, resolved != .verifyFull {
            throw PostgresStoreError(
                .invalidAddress, "A PostgreSQL address's sslrootcert needs sslmode=verify-ca or sslmode=verify-full.")
        }
        self.init(mode: resolved, rootCertificates: root)
    }

    /// Whether `host` names this machine, where plain text never leaves it.
    static func isLoopback(_ host: String) -> Bool {
        let bare = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")).lowercased()
        if bare == "localhost" || bare == "::1" { return true }
        let octets = bare.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets.first == "127" && octets.allSatisfy { UInt8($0) != nil }
    }

    /// PostgresNIO's TLS setting for this security; throws ``PostgresStoreError/Code/invalidAddress``
    /// when the roots file cannot be read as PEM certificates.
    func tls() throws -> PostgresClient.Configuration.TLS {
        guard mode != .disable else { return .disable }
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        switch mode {
        case .disable: return .disable
        case .require: configuration.certificateVerification = .none
        case .verifyCA: configuration.certificateVerification = .noHostnameVerification
        case .verifyFull: configuration.certificateVerification = .fullVerification
        }
        if let rootCertificates {
            let certificates: [NIOSSLCertificate]
            do {
                certificates = try NIOSSLCertificate.fromPEMFile(rootCertificates)
            } catch {
                throw PostgresStoreError(
                    .invalidAddress, "The sslrootcert file \(rootCertificates) holds no PEM certificate that can be read.")
            }
            guard !certificates.isEmpty else {
                throw PostgresStoreError(
                    .invalidAddress, "The sslrootcert file \(rootCertificates) holds no PEM certificate.")
            }
            configuration.trustRoots = .certificates(certificates)
        }
        return .require(configuration)
    }
}
