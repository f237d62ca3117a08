public import ArgumentParser
import Foundation
public import ReplicaStore
public import SyncClient

/// The flags that say which hub a field replica syncs with and how it reaches it, shared by
/// `fieldcli sync` and `syncd run`.
public struct HubConnectionOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The hub's URL (default: $VIGIL_HUB, else the one the saved credential was issued by); another hub than that one needs --token.", valueName: "url"))
    public var hub: String?

    @Option(help: ArgumentHelp("The device credential (default: $VIGIL_TOKEN, else the one saved by `fieldcli enroll`).", valueName: "credential"))
    public var token: String?

    @Option(help: ArgumentHelp("Seconds without progress before a request fails (whole seconds, at least 1).", valueName: "seconds"))
    public var timeout = 30

    @OptionGroup(title: "Hub trust") public var trustOptions: TrustOptions

    public init() {}

    public func validate() throws {
        if let hub, !(hub.hasPrefix("http://") || hub.hasPrefix("https://")) || URL(string: hub)?.host == nil {
            throw ValidationError("--hub takes an http:// or https:// URL, such as http://127.0.0.1:8080.")
        }
        if timeout < 1 { throw ValidationError("--timeout takes whole seconds, at least 1.") }
    }

    /// The hub, credential and trust for `store` (flags, then the environment, then what was
    /// saved with the credential) and a transport to that hub. A saved credential only goes to
    /// the hub it was issued by.
    public func connect(store: ReplicaStore) throws -> (credentials: HubCredentials, transport: HTTPSyncTransport) {
        let credentials = try HubCredentials.resolve(hub: hub, token: token, trust: trustOptions.trust, store: store)
        return (credentials, credentials.transport(timeoutSeconds: timeout, store: store))
    }
}
