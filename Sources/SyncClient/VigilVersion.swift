/// This build's version, sent as `User-Agent: vigil/<version>`.
public enum VigilVersion {
    public static let current = "0.1.0"
}
