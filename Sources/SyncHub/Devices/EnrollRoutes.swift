import Foundation
import Hummingbird
public import Logging
public import SyncEngine

/// `POST /v1/enroll` (no credential): a device trades a one-time code for its credential, binding
/// its replica id and public key to the name the operator gave the code.
///
/// Enrollments are limited per client address
/// (``HubConfiguration/Limits/enrollmentsPerAddressPerMinute``) and hub-wide
/// (``HubConfiguration/Limits/enrollmentsPerMinute``) before the body is read or the database
/// touched: a code has 80 random bits, so the limits are against load, not guessing. Every
/// refused enrollment is counted for the audit log (``RefusalAudit``, one entry per address).
struct EnrollRoutes {
    let exchange: HubExchange
    /// The hub-wide bucket.
    let limiter: RateLimiter
    /// A bucket per client address.
    let addressLimiter: RateLimiter
    let audit: RefusalAudit

    /// The largest enrollment request read.
    static let maxBodyBytes = 16 << 10

    func add(to router: Router<HubRequestContext>) {
        let routes = self
        router.post("v1/enroll") { request, context -> Response in
            let address = context.clientAddress
            if let refusal = routes.rateLimited(address: address, logger: context.logger) {
                routes.audit.record(.enrollment, address: address, reason: "too-many-requests")
                return refusal
            }
            do {
                let enrollment = try await SyncRoutes<HubRequestContext>.decode(
                    EnrollmentRequest.self, from: request, upTo: Self.maxBodyBytes, named: "enrollment request")
                let answer = try await routes.exchange.enroll(enrollment, logger: context.logger)
                return SyncRoutes<HubRequestContext>.json(try JSONEncoder().encode(answer))
            } catch {
                let problem = SyncHubError(translating: error)
                if problem.status.code < 500 { routes.audit.record(.enrollment, address: address, reason: problem.code.description) }
                throw problem
            }
        }
    }

    /// The 429 answer when `address`, or the hub as a whole, took its enrollments for now.
    private func rateLimited(address: String, logger: Logger) -> Response? {
        for (limiter, key, whose) in [(addressLimiter, address, "from this address"), (limiter, "enroll", "")] {
            guard case .limited(let seconds) = limiter.admit(key) else { continue }
            let scope = whose.isEmpty ? "" : " \(whose)"
            return RateLimitMiddleware<HubRequestContext>.tooManyRequests(
                retryAfter: seconds,
                detail: "This hub took more than \(limiter.requestsPerMinute) enrollments\(scope) in a minute; try again in \(seconds) s.",
                logger: logger)
        }
        return nil
    }
}

extension HubExchange {
    /// Enrolls a device: checks its code, records it, and returns its new credential. Throws
    /// ``SyncHubError`` (`enrollment-unknown`, `enrollment-expired`, `enrollment-used`,
    /// `already-enrolled`) with a sentence the device shows.
    public func enroll(_ request: EnrollmentRequest, logger: Logger) async throws -> EnrollmentResponse {
        guard request.hasValidProof else {
            throw SyncHubError(
                .enrollmentProof,
                "The enrollment's proof is not a signature by the key it enrolls; enroll with fieldcli, which signs it with the replica's key.")
        }
        let credential = DeviceCredential.random()
        switch try await devices.enroll(request, credential: credential) {
        case .enrolled(let name):
            logger.notice("device enrolled", metadata: ["device.name": "\(name)", "device.replica": "\(request.replica.hex)"])
            // The device pins the hub's key and learns its own certificate.
            let certificates = try await devices.certificates(of: [request.replica, hubID])
            return EnrollmentResponse(
                credential: credential.text, hub: hubID, name: name,
                hubKey: certificates.first { $0.replica == hubID }?.publicKey,
                certificate: certificates.first { $0.replica == request.replica })
        case .unknownCode:
            throw SyncHubError(.enrollmentUnknown, "This hub gave out no such enrollment code; check it, or ask the operator for a new one.")
        case .expired:
            throw SyncHubError(.enrollmentExpired, "This enrollment code has expired; ask the hub operator for a new one.")
        case .used:
            throw SyncHubError(.enrollmentUsed, "This enrollment code was already used; ask the hub operator for a new one.")
        case .alreadyEnrolled:
            throw SyncHubError(
                .alreadyEnrolled, "Replica \(request.replica.short) is already enrolled at this hub; its credential is in its credential file.")
        case .idInUse:
            throw SyncHubError(
                .alreadyEnrolled,
                "Replica id \(request.replica.short) is in use at this hub (its own id, or one it writes under); a device enrolls a replica of its own, with a new random id.")
        }
    }
}
