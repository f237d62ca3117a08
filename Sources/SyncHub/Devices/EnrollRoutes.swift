import Foundation
import Hummingbird
public import Logging
import ReplicaStore
public import SyncEngine

/// `POST /v1/enroll` (no credential): a device trades a one-time code for its credential, binding
/// its replica id and public key to the name the operator gave the code.
struct EnrollRoutes {
    let exchange: HubExchange

    /// The largest enrollment request read.
    static let maxBodyBytes = 16 << 10

    func add(to router: Router<HubRequestContext>) {
        let exchange = self.exchange
        router.post("v1/enroll") { request, context -> Response in
            guard let contentType = request.headers[.contentType], SyncRoutes<HubRequestContext>.isJSON(contentType) else {
                throw SyncHubError(.unsupportedMediaType, "The enrollment request must be JSON: send 'Content-Type: application/json'.")
            }
            let body = try await request.body.collect(upTo: Self.maxBodyBytes)
            let enrollment: EnrollmentRequest
            do {
                enrollment = try JSONDecoder().decode(EnrollmentRequest.self, from: Data(body.readableBytesView))
            } catch let error as DecodingError {
                throw SyncHubError(.malformedRequest, "The enrollment request is not valid: \(SyncHubError.describe(error))")
            }
            let answer = try await exchange.enroll(enrollment, logger: context.logger)
            return SyncRoutes<HubRequestContext>.json(try JSONEncoder().encode(answer))
        }
    }
}

extension HubExchange {
    /// Enrolls a device: checks its code, records it, and returns its new credential. Throws
    /// ``SyncHubError`` (`enrollment-unknown`, `enrollment-expired`, `enrollment-used`,
    /// `already-enrolled`) with a sentence the device shows.
    public func enroll(_ request: EnrollmentRequest, logger: Logger) async throws -> EnrollmentResponse {
        let credential = DeviceCredential.random()
        switch try await devices.enroll(request, credential: credential) {
        case .enrolled(let name):
            logger.notice("device enrolled", metadata: ["device.name": "\(name)", "device.replica": "\(request.replica.hex)"])
            return EnrollmentResponse(credential: credential.text, hub: hubID, name: name)
        case .unknownCode:
            throw SyncHubError(.enrollmentUnknown, "This hub gave out no such enrollment code; check it, or ask the operator for a new one.")
        case .expired:
            throw SyncHubError(.enrollmentExpired, "This enrollment code has expired; ask the hub operator for a new one.")
        case .used:
            throw SyncHubError(.enrollmentUsed, "This enrollment code was already used; ask the hub operator for a new one.")
        case .alreadyEnrolled:
            throw SyncHubError(
                .alreadyEnrolled, "Replica \(request.replica.short) is already enrolled at this hub; its credential is in its credential file.")
        }
    }
}
