public import ArgumentParser
public import SyncClient

/// How this device trusts the hub: a CA file or a pinned certificate, and plain HTTP.
public struct TrustOptions: ParsableArguments {
    @Option(name: .customLong("ca-file"), help: ArgumentHelp("Trust hub certificates issued by the CAs in this PEM file (default: $VIGIL_CA_FILE; else the system store).", valueName: "pem"))
    public var caFile: String?

    @Option(name: .customLong("pin"), help: ArgumentHelp("Trust only a hub whose certificate (DER) or public key (SPKI) has this SHA-256, in hex; repeatable (default: $VIGIL_PIN).", valueName: "sha256"))
    public var pins: [String] = []

    @Flag(name: .customLong("allow-insecure-http"), help: "Allow plain http:// to a hub on another machine (the credential and records travel in clear).")
    public var allowInsecureHTTP = false

    public init() {}

    public func validate() throws {
        if caFile != nil, !pins.isEmpty { throw ValidationError("Give --ca-file or --pin, not both.") }
    }

    /// Flags, then the environment.
    public var trust: HubTrust { HubTrust.resolve(caFile: caFile, pins: pins, allowInsecureHTTP: allowInsecureHTTP) }
}
