/// Checks the signatures of many versions at once, on every core (one Ed25519 verification per
/// version; see ``Parallel``).
public enum SignatureCheck {
    /// The dots among `versions` whose signature does not verify against their origin's key in
    /// `keys`; a version whose origin has no key there counts as failing.
    public static func failures(of versions: [Version], keys: [ReplicaID: PublicDeviceKey]) async -> Set<Dot> {
        Set(await Parallel.compactMap(versions) { failure(of: $0, keys: keys) })
    }

    /// ``failures(of:keys:)`` on the calling thread and as many others as there are cores.
    public static func failuresBlocking(of versions: [Version], keys: [ReplicaID: PublicDeviceKey]) -> Set<Dot> {
        Set(Parallel.compactMapBlocking(versions) { failure(of: $0, keys: keys) })
    }

    private static func failure(of version: Version, keys: [ReplicaID: PublicDeviceKey]) -> Dot? {
        keys[version.dot.replica]?.isValidSignature(of: version) == true ? nil : version.dot
    }
}
