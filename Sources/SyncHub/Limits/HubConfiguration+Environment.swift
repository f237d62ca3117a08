import Foundation

extension HubConfiguration.Limits {
    /// One limit of the hub: the one place that names its flag (`--NAME`), its environment
    /// variable (`VIGIL_HUB_NAME`, upper case with underscores), what it sets and its help.
    /// `syncd serve` and ``HubConfiguration/fromEnvironment(_:)`` both read ``settings``.
    public struct Setting: Sendable {
        /// The flag without its dashes, such as `max-request-bytes`.
        public let name: String
        /// The smallest value accepted (0 where 0 turns the limit off or derives it).
        public let minimum: Int
        /// What the limit bounds, for `--help`.
        public let help: String
        private let read: @Sendable (HubConfiguration.Limits) -> Int
        private let write: @Sendable (inout HubConfiguration.Limits, Int) -> Void

        init(
            _ name: String, _ path: any WritableKeyPath<HubConfiguration.Limits, Int> & Sendable, minimum: Int = 1,
            help: String
        ) {
            self.name = name
            self.minimum = minimum
            self.help = help
            read = { $0[keyPath: path] }
            write = { $0[keyPath: path] = $1 }
        }

        /// `--max-request-bytes`.
        public var flag: String { "--" + name }
        /// `VIGIL_HUB_MAX_REQUEST_BYTES`.
        public var environmentKey: String { "VIGIL_HUB_" + name.uppercased().replacingOccurrences(of: "-", with: "_") }
        /// The value this limit has in `limits`.
        public func value(in limits: HubConfiguration.Limits) -> Int { read(limits) }
        /// Sets this limit in `limits`.
        public func set(_ value: Int, in limits: inout HubConfiguration.Limits) { write(&limits, value) }
        /// The default, as people read it (`8 MiB (8388608)`).
        public var defaultText: String {
            let value = read(HubConfiguration.Limits())
            guard value >= 1 << 20, value % (1 << 20) == 0 else { return "\(value)" }
            return "\(value >> 20) MiB (\(value))"
        }
    }

    /// Every limit `syncd serve` takes as a flag and an environment variable.
    public static let settings: [Setting] = [
        Setting("max-request-bytes", \.maxRequestBytes, help: "Largest request body on the wire, in bytes"),
        Setting("max-decompressed-bytes", \.maxDecompressedBytes, help: "Largest request body once gunzipped, in bytes"),
        Setting(
            "max-buffered-body-bytes", \.maxBufferedBodyBytes,
            help: "Most request-body bytes held at once, all requests together (503 busy above)"),
        Setting("max-push-versions", \.maxPushVersions, help: "Most versions per push"),
        Setting("max-record-bytes", \.maxRecordBytes, help: "Largest record body, in bytes; a larger one is quarantined"),
        Setting("max-vector-entries", \.maxVectorEntries, help: "Most entries in one version vector"),
        Setting("max-body-depth", \.maxBodyDepth, help: "Deepest nesting of arrays and objects in a record body"),
        Setting("max-request-depth", \.maxRequestDepth, help: "Deepest nesting of arrays and objects in a request"),
        Setting("max-scanned-per-page", \.maxScannedPerPage, help: "Most feed versions one pull looks at to fill a page"),
        Setting(
            "max-connections", \.maxConnections, minimum: 0,
            help: "Most open connections; 0 derives it from the open-file limit"),
        Setting("idle-timeout", \.idleTimeoutSeconds, help: "Seconds a connection may stay silent before it is closed"),
        Setting("header-timeout", \.headerTimeoutSeconds, help: "Seconds a request's head may take to arrive"),
        Setting("requests-per-minute", \.requestsPerMinute, minimum: 0, help: "Requests per device per minute; 0 for no limit"),
        Setting(
            "enrollments-per-minute", \.enrollmentsPerMinute, minimum: 0,
            help: "Enrollments the hub takes per minute, all devices together; 0 for no limit"),
        Setting(
            "enrollments-per-address-per-minute", \.enrollmentsPerAddressPerMinute, minimum: 0,
            help: "Enrollments per client address per minute; 0 for no limit"),
        Setting(
            "failed-authentications-per-minute", \.failedAuthenticationsPerMinute, minimum: 0,
            help: "Failed authentications per client address per minute; 0 for no limit"),
        Setting(
            "device-entries-per-hour", \.deviceEntriesPerHour, minimum: 0,
            help: "Audit entries, and foreign-quarantine rows, one device's syncs may add per hour; beyond it they are counted in one entry; 0 for no limit"),
        Setting("max-attachment-bytes", \.maxAttachmentBytes, help: "Largest attachment a device may upload, in bytes"),
        Setting(
            "device-media-quota-bytes", \.deviceMediaQuotaBytes, minimum: 0,
            help: "Most attachment bytes one device may upload in all; 0 for no quota"),
    ]

    /// The setting of a flag (`--max-request-bytes`); nil when no limit has it.
    public static func setting(flag: String) -> Setting? {
        settings.first { $0.flag == flag }
    }

    /// These limits with every well-formed variable of ``settings`` applied (a whole number at
    /// least the setting's minimum; others are ignored).
    public func applying(environment: [String: String]) -> Self {
        var limits = self
        for setting in Self.settings {
            if let text = environment[setting.environmentKey], let value = Int(text), value >= setting.minimum {
                setting.set(value, in: &limits)
            }
        }
        return limits
    }
}

extension HubConfiguration {
    /// Applies the limit variables and `VIGIL_HUB_TLS_CERT` / `VIGIL_HUB_TLS_KEY` (both needed).
    mutating func applyLimitsAndTLS(environment: [String: String]) {
        limits = limits.applying(environment: environment)
        if let certificate = environment[TLSFiles.certificateEnvironmentKey], !certificate.isEmpty,
            let key = environment[TLSFiles.privateKeyEnvironmentKey], !key.isEmpty
        {
            tls = TLSFiles(certificatePath: certificate, privateKeyPath: key)
        }
    }
}
