import Foundation

extension HubConfiguration.Limits {
    /// The environment variable of each limit that `syncd serve` reads (`VIGIL_HUB_MAX_PUSH_VERSIONS`…),
    /// with the key path it sets.
    public static var environmentKeys: [(key: String, path: WritableKeyPath<Self, Int>)] {
        [
        ("VIGIL_HUB_MAX_REQUEST_BYTES", \.maxRequestBytes),
        ("VIGIL_HUB_MAX_DECOMPRESSED_BYTES", \.maxDecompressedBytes),
        ("VIGIL_HUB_MAX_PUSH_VERSIONS", \.maxPushVersions),
        ("VIGIL_HUB_MAX_RECORD_BYTES", \.maxRecordBytes),
        ("VIGIL_HUB_MAX_VECTOR_ENTRIES", \.maxVectorEntries),
        ("VIGIL_HUB_MAX_BODY_DEPTH", \.maxBodyDepth),
        ("VIGIL_HUB_MAX_REQUEST_DEPTH", \.maxRequestDepth),
        ("VIGIL_HUB_REQUESTS_PER_MINUTE", \.requestsPerMinute),
        ("VIGIL_HUB_ENROLLMENTS_PER_MINUTE", \.enrollmentsPerMinute),
        ("VIGIL_HUB_MAX_SCANNED_PER_PAGE", \.maxScannedPerPage),
    ]}

    /// These limits with every well-formed (non-negative integer) variable of ``environmentKeys`` applied.
    public func applying(environment: [String: String]) -> Self {
        var limits = self
        for (key, path) in Self.environmentKeys {
            if let text = environment[key], let value = Int(text), value >= 0 { limits[keyPath: path] = value }
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
