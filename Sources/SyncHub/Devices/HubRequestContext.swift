public import Hummingbird
import NIOCore
public import HubStore

/// The hub's request context: Hummingbird's core context plus the device the request's
/// credential belongs to, set by ``DeviceAuthMiddleware``, and the client's address.
public struct HubRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The authenticated device; nil on routes that need none (health, enrollment).
    public var device: DeviceRecord?
    /// The client's IP address (without its port), the key of the per-address limits; `unknown`
    /// when the connection does not say.
    public let clientAddress: String

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        device = nil
        clientAddress = source.channel.remoteAddress?.ipAddress ?? "unknown"
    }
}
