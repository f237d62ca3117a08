import HubStore
import Hummingbird
import SyncEngine

/// Requires `Authorization: Bearer <device credential>` of an active enrolled device and puts the
/// device in the context. The hub stores credentials only hashed; the comparison of hashes runs
/// in constant time. Problems never echo the credential.
///
/// A client address that failed authentication more than
/// ``HubConfiguration/Limits/failedAuthenticationsPerMinute`` times in a minute is refused (429)
/// before its credential is parsed or looked up; every failure is counted for the audit log
/// (``RefusalAudit``, one entry per address). A header that is not one plain bearer credential
/// of a sane length (two headers, another scheme, control characters) fails without a lookup.
struct DeviceAuthMiddleware: RouterMiddleware {
    typealias Context = HubRequestContext
    let registry: any DeviceRegistry
    /// A bucket of failures per client address.
    let failures: RateLimiter
    let audit: RefusalAudit

    /// The longest `Authorization` header looked at (a credential is 43 characters).
    static let maxHeaderLength = 256

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let address = context.clientAddress
        let headers = request.headers[values: .authorization]
        guard !headers.isEmpty else {
            throw SyncHubError(.unauthorized, "This hub requires a device credential.")
        }
        if case .limited(let seconds) = failures.check(address) {
            audit.record(.authentication, address: address, reason: "too-many-requests")
            return RateLimitMiddleware<Context>.tooManyRequests(
                retryAfter: seconds,
                detail: "Too many failed authentications from this address; try again in \(seconds) s.",
                logger: context.logger)
        }
        guard headers.count == 1, let credential = Self.credential(in: headers[0]) else {
            throw failed(address, reason: "malformed")
        }
        guard let device = try await registry.device(presenting: credential) else {
            throw failed(address, reason: "unknown")
        }
        guard device.status == .active else {
            _ = failed(address, reason: "revoked")
            throw SyncHubError(.revoked, "This device was revoked by the hub operator; local data is kept.")
        }
        var context = context
        context.device = device
        context.logger[metadataKey: "device.name"] = "\(device.name)"
        return try await next(request, context)
    }

    /// The credential of one `Authorization` header value: `Bearer` and a credential, plain
    /// printable ASCII of at most ``maxHeaderLength`` characters; nil otherwise.
    static func credential(in header: String) -> DeviceCredential? {
        guard header.utf8.count <= maxHeaderLength, header.utf8.allSatisfy({ (0x20...0x7E).contains($0) }) else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return DeviceCredential(parts[1].trimmingSpaces)
    }

    /// Counts a failure of `address` (its bucket and the audit) and says it.
    private func failed(_ address: String, reason: String) -> SyncHubError {
        _ = failures.admit(address)
        audit.record(.authentication, address: address, reason: reason)
        return SyncHubError(
            .unauthorized,
            "This hub does not know this device's credential; enroll the device again with a code from the hub operator.")
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var text = self
        while text.first == " " || text.first == "\t" { text = text.dropFirst() }
        while text.last == " " || text.last == "\t" { text = text.dropLast() }
        return text
    }
}
