import Foundation
import Logging

/// The bearer token a hub requires until device enrollment lands.
enum HubToken {
    /// The configured token, else the one kept in the token file, else a new random one written
    /// there with mode 0600. Logs where the file is, never the token.
    static func resolve(_ configuration: HubConfiguration, logger: Logger) throws -> String {
        if let token = configuration.token, !token.isEmpty { return token }
        let path = configuration.tokenFilePath
        if FileManager.default.fileExists(atPath: path) {
            guard let data = FileManager.default.contents(atPath: path),
                let text = String(data: data, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines),
                !text.isEmpty
            else {
                throw SyncHubError(.tokenFile, "Cannot read the hub token file \(path); remove it to generate a new token, or pass --token.")
            }
            logger.notice("using the bearer token kept in the token file", metadata: ["hub.tokenFile": "\(path)"])
            return text
        }
        var generator = SystemRandomNumberGenerator()
        let token = (0..<4).map { _ in
            let hex = String(generator.next() as UInt64, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty { try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard descriptor >= 0 else {
            throw SyncHubError(.tokenFile, "Cannot create the hub token file \(path); check that its folder is writable, or pass --token.")
        }
        let bytes = Array((token + "\n").utf8)
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        close(descriptor)
        guard written == bytes.count else {
            unlink(path)
            throw SyncHubError(.tokenFile, "Cannot write the hub token file \(path); check the disk, or pass --token.")
        }
        logger.notice(
            "generated a bearer token for this hub; give it to clients from the token file",
            metadata: ["hub.tokenFile": "\(path)"])
        return token
    }
}
