import Hummingbird
import ReplicaStore
import SyncEngine

/// Requires `Authorization: Bearer <device credential>` of an active enrolled device and puts the
/// device in the context. The hub stores credentials only hashed; the comparison of hashes runs
/// in constant time. Problems never echo the credential.
struct DeviceAuthMiddleware: RouterMiddleware {
    typealias Context = HubRequestContext
    let registry: any DeviceRegistry

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization] else {
            throw SyncHubError(
                .unauthorized,
                "This hub requires a device credential: enroll this device with `fieldcli enroll --hub URL --code CODE`.")
        }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer", let credential = DeviceCredential(parts[1].trimmingSpaces),
            let device = try await registry.device(presenting: credential)
        else {
            throw SyncHubError(
                .unauthorized,
                "This hub does not know this device's credential; enroll the device again with a code from the hub operator.")
        }
        guard device.status == .active else {
            throw SyncHubError(.revoked, "This device was revoked by the hub operator; local data is kept.")
        }
        var context = context
        context.device = device
        context.logger[metadataKey: "device.name"] = "\(device.name)"
        return try await next(request, context)
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
