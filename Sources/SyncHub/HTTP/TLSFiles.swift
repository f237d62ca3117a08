import Foundation
import NIOSSL

/// The PEM files a hub serves HTTPS with.
public struct TLSFiles: Sendable, Hashable {
    /// The certificate chain, leaf first, in PEM.
    public var certificatePath: String
    /// The private key of the leaf certificate, in PEM (RSA, ECDSA or Ed25519).
    public var privateKeyPath: String

    public init(certificatePath: String, privateKeyPath: String) {
        self.certificatePath = certificatePath
        self.privateKeyPath = privateKeyPath
    }

    /// The environment variable naming the certificate file.
    public static let certificateEnvironmentKey = "VIGIL_HUB_TLS_CERT"
    /// The environment variable naming the private key file.
    public static let privateKeyEnvironmentKey = "VIGIL_HUB_TLS_KEY"

    /// The server's TLS configuration (TLS 1.2 at least), or an error saying which file is wrong.
    func serverConfiguration() throws -> TLSConfiguration {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificatePath)
        } catch {
            throw TLSFilesError("Cannot read a PEM certificate from \(certificatePath).", file: .certificate)
        }
        guard !chain.isEmpty else {
            throw TLSFilesError("The file \(certificatePath) holds no PEM certificate.", file: .certificate)
        }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: privateKeyPath, format: .pem)
        } catch {
            throw TLSFilesError("Cannot read a PEM private key from \(privateKeyPath).", file: .privateKey)
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        return configuration
    }
}

/// A certificate or key file the hub cannot serve HTTPS with; says which, never its contents.
public struct TLSFilesError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Which of the two files.
    public enum File: Sendable, Hashable {
        case certificate, privateKey
    }

    public let message: String
    public let file: File

    init(_ message: String, file: File) {
        self.message = message
        self.file = file
    }

    public var description: String { message }
}
