/// `POST /v1/certificates`: the hub's certificates of the authors' keys a device lacks.
///
/// An answer of revision 2 (``SyncFrame/answerRevision``) carries no certificates: most pages come
/// from authors whose keys the device established long ago, and each certificate is about 150
/// bytes after gzip. A device that finds in a page an author whose key it does not hold asks for
/// that author's certificate here before it verifies the page (Docs/Protocol.md, "Revision 2 of
/// the answer"). What it gets is checked exactly as a page's certificates are: only the pinned
/// hub key's signatures, and never a key that changes one held.
public struct CertificateRequest: Codable, Sendable, Hashable {
    /// The ids whose certificates the device asks for, at most ``maxReplicas``.
    public var replicas: [ReplicaID]

    /// The most ids one request may name.
    public static let maxReplicas = 1_000

    public init(replicas: [ReplicaID]) {
        self.replicas = replicas
    }
}

/// The hub's answer to a ``CertificateRequest``.
public struct CertificateResponse: Codable, Sendable, Hashable {
    /// The hub's certificates of the ids asked for that it certified (enrolled devices, their
    /// incarnations, the hub and its writer ids); ids it certified none of are left out.
    public var certificates: [DeviceCertificate]

    public init(certificates: [DeviceCertificate]) {
        self.certificates = certificates
    }
}
