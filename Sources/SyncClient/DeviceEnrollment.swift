public import Foundation
public import ReplicaStore
public import SyncEngine

/// Enrolls a replica's device with a hub: trades the operator's one-time code for a credential
/// (`POST <hub>/v1/enroll`, sending the replica id and public key), then saves the credential and
/// the hub's URL in the replica's credential file (mode 0600), so later syncs need no flags.
public enum DeviceEnrollment {
    /// Enrolls `store`'s device with the hub at `hub`; returns the hub's answer (the credential is
    /// already saved). Throws ``SyncClientError``: `enrollmentRefused` (unknown, expired or used
    /// code, or already enrolled), `unreachable`, `badAnswer`; or ``StoreError`` when the
    /// credential file cannot be written.
    public static func enroll(
        _ store: ReplicaStore, hub: URL, code: String, name: String? = nil, timeoutSeconds: Int = 30,
        trust: HubTrust = HubTrust()
    ) async throws -> EnrollmentResponse {
        try trust.check(hub)
        let hubName = HubCredentials.peerName(for: hub)
        let request = try store.enrollmentRequest(code: code, name: name)
        let url = hub.appendingPathComponent("v1").appendingPathComponent("enroll")
        let body = try JSONEncoder().encode(request)
        // No redirects followed, the answer bounded: see HubRequest. The client is for this one
        // request; it shuts down when it goes.
        let client = HubClient(trust: trust, timeoutSeconds: timeoutSeconds)
        let reply = try await client.send(HubRequest(post: body, to: url, userAgent: "vigil/\(VigilVersion.current)"), hub: hubName)
        guard reply.status == 200 else {
            throw failure(status: reply.status, body: reply.body, hub: hubName)
        }
        let answer: EnrollmentResponse
        do {
            answer = try JSONDecoder().decode(EnrollmentResponse.self, from: reply.body)
        } catch {
            throw SyncClientError(
                .badAnswer, "The hub at \(hubName) sent an enrollment answer this program cannot read; it may not be a Vigil hub.",
                httpStatus: 200)
        }
        // Checked, then the credential kept first (the hub gave it once; the code is used up),
        // then the pin: a credential file that cannot be written leaves the replica as it was
        // (before, the pin was saved and the credential lost, and enrolling again said "already
        // enrolled").
        try checkCertificate(of: answer, for: store, hub: hubName)
        try HubCredentials(url: hub, token: answer.credential, trust: trust).saveToken(for: store)
        try pinHubKey(of: answer, in: store)
        return answer
    }

    /// Refuses an answer whose certificate of this device's key is not the hub key's signature.
    static func checkCertificate(of answer: EnrollmentResponse, for store: ReplicaStore, hub: String) throws {
        guard let hubKey = answer.hubKey, let certificate = answer.certificate else { return }
        guard certificate.isSigned(by: hubKey), certificate.replica == store.replicaID, certificate.publicKey == store.publicKey else {
            throw SyncClientError(
                .badAnswer, "The hub at \(hub) answered the enrollment with a certificate that is not its own signature of this device's key.")
        }
    }

    /// Pins the hub's key in the replica: from now on, authors' keys are trusted only through
    /// certificates it signed. The answer's certificate was checked (``checkCertificate(of:for:hub:)``).
    static func pinHubKey(of answer: EnrollmentResponse, in store: ReplicaStore) throws {
        guard let hubKey = answer.hubKey else { return }
        try store.pinHub(answer.hub, key: hubKey)
        // Kept so that bundles this device exports let other devices verify its versions.
        if let certificate = answer.certificate { try store.saveOwnCertificate(certificate) }
    }

    static func failure(status: Int, body: Data, hub: String) -> SyncClientError {
        let problem = try? JSONDecoder().decode(HTTPSyncTransport.Problem.self, from: body)
        switch problem?.type ?? "" {
        case "enrollment-unknown":
            return SyncClientError(
                .enrollmentRefused, "The hub at \(hub) gave out no such enrollment code; check it, or ask the operator for a new one.",
                httpStatus: status)
        case "enrollment-expired":
            return SyncClientError(
                .enrollmentRefused, "This enrollment code has expired; ask the operator of the hub at \(hub) for a new one.",
                httpStatus: status)
        case "enrollment-used":
            return SyncClientError(
                .enrollmentRefused, "This enrollment code was already used; ask the operator of the hub at \(hub) for a new one.",
                httpStatus: status)
        case "enrollment-proof":
            return SyncClientError(
                .enrollmentRefused,
                "The hub at \(hub) did not accept this replica's proof of its key; the replica's key file may be damaged.",
                httpStatus: status)
        case "already-enrolled":
            return SyncClientError(
                .enrollmentRefused, "This replica is already enrolled at the hub at \(hub); its credential is in its credential file.",
                httpStatus: status)
        default:
            return HTTPSyncTransport.failure(status: status, body: body, hub: hub)
        }
    }
}
