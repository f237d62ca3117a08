public import Hummingbird
public import ReplicaStore

/// The hub's request context: Hummingbird's core context plus the device the request's
/// credential belongs to, set by ``DeviceAuthMiddleware``.
public struct HubRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The authenticated device; nil on routes that need none (health, enrollment).
    public var device: DeviceRecord?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        device = nil
    }
}
