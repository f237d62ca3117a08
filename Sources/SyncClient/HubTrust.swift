public import Foundation
import NIOSSL
import SyncEngine

/// How the client trusts the hub it talks to.
///
/// - With neither a CA file nor a pin, `https` hubs are checked against the system's trust
///   store (as NIOSSL finds it).
/// - With ``caFile``, the hub's chain must lead to a certificate in that PEM file and the
///   certificate must name the host (or IP) of the hub URL.
/// - With ``pins``, the hub's leaf certificate must match one pin: the SHA-256 of its DER or of
///   its public key (SPKI DER), in hex (colons allowed, as `openssl x509 -fingerprint -sha256`
///   prints). A pin replaces the CA and name checks, like an SSH host key.
///
/// Requests go over AsyncHTTPClient (``HubClient``), which takes a CA file in its TLS
/// configuration; a pin needs a verification callback of its own, so with a pin they go over
/// this package's small HTTPS client on SwiftNIO and NIOSSL (``PinnedHTTPSClient``).
///
/// Plain `http` to an address other than loopback is refused unless ``allowInsecureHTTP``.
public struct HubTrust: Sendable, Hashable {
    /// A PEM file of the certificate authorities (or self-signed hub certificates) to trust.
    public var caFile: String?
    /// SHA-256 fingerprints of the hub's leaf certificate (DER) or public key (SPKI), 64 hex digits.
    public var pins: [String]
    /// Allows plain HTTP to a hub that is not on this machine (the token and records then
    /// travel in clear).
    public var allowInsecureHTTP: Bool

    /// The environment variable naming ``caFile``.
    public static let caFileEnvironmentKey = "VIGIL_CA_FILE"
    /// The environment variable holding comma-separated ``pins``.
    public static let pinsEnvironmentKey = "VIGIL_PIN"

    public init(caFile: String? = nil, pins: [String] = [], allowInsecureHTTP: Bool = false) {
        self.caFile = caFile
        self.pins = pins
        self.allowInsecureHTTP = allowInsecureHTTP
    }

    /// Flags first, then the environment (`VIGIL_CA_FILE`, `VIGIL_PIN`).
    public static func resolve(
        caFile: String?, pins: [String], allowInsecureHTTP: Bool,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> HubTrust {
        let file = caFile ?? environment[caFileEnvironmentKey].flatMap { $0.isEmpty ? nil : $0 }
        let pinned = pins.isEmpty
            ? (environment[pinsEnvironmentKey] ?? "").split(separator: ",").map(String.init) : pins
        return HubTrust(caFile: file, pins: pinned, allowInsecureHTTP: allowInsecureHTTP)
    }

    /// Whether this trust names certificates of its own (a CA file or pins) rather than the
    /// system's trust store.
    public var namesCertificates: Bool { caFile != nil || !pins.isEmpty }

    /// Whether requests to `url` need ``PinnedHTTPSClient`` (a pin, over https).
    func needsPinnedClient(for url: URL) -> Bool {
        url.scheme?.lowercased() == "https" && !pins.isEmpty
    }

    /// The TLS settings for the hub: TLS 1.2 or later, the hub's certificate checked against the
    /// CA file's certificates when there is one, else against the system's trust store.
    func tlsConfiguration() throws -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        if let caFile {
            configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
        }
        return configuration
    }

    /// The pins as 32-byte digests; nil when one is not 64 hex digits.
    var pinDigests: [[UInt8]]? {
        var digests: [[UInt8]] = []
        for pin in pins {
            let hex = pin.lowercased().filter { $0 != ":" && !$0.isWhitespace }
            guard hex.count == 64 else { return nil }
            var bytes: [UInt8] = []
            var index = hex.startIndex
            while index < hex.endIndex {
                let next = hex.index(index, offsetBy: 2)
                guard let byte = UInt8(hex[index..<next], radix: 16) else { return nil }
                bytes.append(byte)
                index = next
            }
            digests.append(bytes)
        }
        return digests
    }

    /// Refuses what this trust cannot allow: a scheme other than http(s), plain http to a
    /// non-loopback host without ``allowInsecureHTTP``, a malformed pin, a CA file together with a pin.
    public func check(_ url: URL) throws {
        let hub = url.absoluteString
        switch url.scheme?.lowercased() {
        case "https":
            break
        case "http":
            guard allowInsecureHTTP || Self.isLoopback(url.host ?? "") else {
                throw SyncClientError(
                    .insecureHubAddress,
                    "The hub address \(hub) is plain HTTP to another machine: the token and records would travel in clear.")
            }
        default:
            throw SyncClientError(.invalidHubAddress, "The hub address \(hub) is not http or https.")
        }
        if caFile != nil, !pins.isEmpty {
            throw SyncClientError(.notConfigured, "Give either a CA file or a pin for the hub, not both.")
        }
        if pinDigests == nil {
            throw SyncClientError(
                .notConfigured, "A pin is the SHA-256 of the hub's certificate or public key: 64 hex digits (colons allowed).")
        }
        if let caFile, !FileManager.default.isReadableFile(atPath: caFile) {
            throw SyncClientError(.notConfigured, "The CA file \(caFile) cannot be read.")
        }
    }

    /// Whether `host` is this machine: `localhost`, 127.0.0.0/8 or ::1. Not a name under
    /// `.localhost`: without `nss-myhostname` glibc asks DNS for it, and the credential would go
    /// in clear to whatever address came back (found by review).
    static func isLoopback(_ host: String) -> Bool {
        var host = host.lowercased()
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host == "localhost" || host == "::1" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }

    /// SHA-256 of `bytes`.
    static func sha256(_ bytes: [UInt8]) -> [UInt8] {
        var hasher = AttachmentHasher()
        hasher.update(Data(bytes))
        let hex = hasher.hexDigest()
        return stride(from: 0, to: hex.count, by: 2).compactMap { offset in
            let start = hex.index(hex.startIndex, offsetBy: offset)
            return UInt8(hex[start..<hex.index(start, offsetBy: 2)], radix: 16)
        }
    }
}
