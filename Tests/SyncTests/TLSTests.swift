import Foundation
import SyncClient
import SyncEngine
import SyncHub
import Testing
import TestSupport

/// The hub over HTTPS with a certificate made in the test by the openssl command, on 127.0.0.1;
/// the client trusting it by a CA file or a pin.
@Suite("TLS")
struct TLSTests {
    /// A self-signed certificate for 127.0.0.1 and its key, in a temporary folder.
    struct Certificate {
        let directory: URL
        var certificate: String { directory.appendingPathComponent("cert.pem").path }
        var key: String { directory.appendingPathComponent("key.pem").path }

        init() throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-tls-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try TLSTests.openssl([
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", key, "-out", certificate, "-days", "1", "-subj", "/CN=127.0.0.1",
                "-addext", "subjectAltName=IP:127.0.0.1",
            ])
        }

        func remove() { try? FileManager.default.removeItem(at: directory) }

        /// SHA-256 of the certificate's DER, as `openssl x509 -fingerprint -sha256` prints it.
        func derPin() throws -> String {
            let output = try TLSTests.openssl(["x509", "-in", certificate, "-noout", "-fingerprint", "-sha256"])
            return String(try #require(output.split(separator: "=").last)).trimmingCharacters(in: .whitespacesAndNewlines)
        }

        /// SHA-256 of the public key's SPKI DER, in hex.
        func spkiPin() throws -> String {
            let spki = directory.appendingPathComponent("spki.der").path
            try TLSTests.openssl(["x509", "-in", certificate, "-noout", "-pubkey", "-out", directory.appendingPathComponent("pub.pem").path])
            try TLSTests.openssl(["pkey", "-pubin", "-in", directory.appendingPathComponent("pub.pem").path, "-outform", "DER", "-out", spki])
            let output = try TLSTests.openssl(["dgst", "-sha256", "-r", spki])
            return String(try #require(output.split(separator: " ").first))
        }
    }

    @discardableResult
    static func openssl(_ arguments: [String]) throws -> String {
        let process = SpawnedProcess()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try spawn(process)
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "openssl \(arguments.first ?? "") failed")
        return String(decoding: data, as: UTF8.self)
    }

    static func withTLSHub(_ body: (HubFixture, URL, Certificate) async throws -> Void) async throws {
        let certificate = try Certificate()
        defer { certificate.remove() }
        try await HubFixture.withHub(configure: {
            $0.tls = TLSFiles(certificatePath: certificate.certificate, privateKeyPath: certificate.key)
        }) { hub in
            let url = try #require(URL(string: "https://127.0.0.1:\(hub.port)"))
            try await body(hub, url, certificate)
        }
    }

    static func exchange(_ hub: HubFixture, _ url: URL, trust: HubTrust) async throws -> SyncResponse {
        var configuration = HTTPSyncTransport.Configuration(hub: url, token: hub.token, timeoutSeconds: 10)
        configuration.trust = trust
        let transport = HTTPSyncTransport(configuration: configuration)
        return try await transport.exchange(SyncRequest(replica: hub.deviceID, counter: 0, checkpoint: nil, push: [])).response
    }

    @Test func caFileTrustsTheHub() async throws {
        try await Self.withTLSHub { hub, url, certificate in
            let answer = try await Self.exchange(hub, url, trust: HubTrust(caFile: certificate.certificate))
            #expect(answer.hub == hub.exchange.hubID)
        }
    }

    @Test func pinOfTheCertificateOrItsKeyTrustsTheHub() async throws {
        try await Self.withTLSHub { hub, url, certificate in
            for pin in [try certificate.derPin(), try certificate.spkiPin()] {
                let answer = try await Self.exchange(hub, url, trust: HubTrust(pins: [pin]))
                #expect(answer.hub == hub.exchange.hubID)
            }
        }
    }

    @Test func untrustedHubIsRefused() async throws {
        try await Self.withTLSHub { hub, url, certificate in
            // The system store does not hold the test certificate (URLSession path).
            await #expect(throws: SyncClientError.self) { try await Self.exchange(hub, url, trust: HubTrust()) }
            // A wrong pin, and another CA.
            let wrong = String(repeating: "ab", count: 32)
            let error = await #expect(throws: SyncClientError.self) { try await Self.exchange(hub, url, trust: HubTrust(pins: [wrong])) }
            #expect(error?.code == .unreachable)
            let other = try Certificate()
            defer { other.remove() }
            await #expect(throws: SyncClientError.self) {
                try await Self.exchange(hub, url, trust: HubTrust(caFile: other.certificate))
            }
            // Plain HTTP to a TLS port gets no answer it can read.
            let plain = try #require(URL(string: "http://127.0.0.1:\(hub.port)"))
            await #expect(throws: (any Error).self) { try await Self.exchange(hub, plain, trust: HubTrust()) }
            // The hub kept serving.
            #expect(try await Self.exchange(hub, url, trust: HubTrust(caFile: certificate.certificate)).hub == hub.exchange.hubID)
        }
    }

    @Test func plainHTTPToAnotherMachineIsRefusedUnlessAllowed() throws {
        let remote = try #require(URL(string: "http://10.1.2.3:8080"))
        #expect(throws: SyncClientError.self) { try HubTrust().check(remote) }
        try HubTrust(allowInsecureHTTP: true).check(remote)
        for local in ["http://127.0.0.1:8080", "http://localhost:8080", "http://[::1]:8080", "https://10.1.2.3"] {
            try HubTrust().check(try #require(URL(string: local)))
        }
        #expect(throws: SyncClientError.self) { try HubTrust(pins: ["not-hex"]).check(remote) }
        #expect(throws: SyncClientError.self) {
            try HubTrust(caFile: "/nonexistent/ca.pem").check(try #require(URL(string: "https://hub.example")))
        }
    }

    @Test func missingCertificateFileIsAClearError() async throws {
        let error = await #expect(throws: TLSFilesError.self) {
            try await HubFixture.withHub(configure: {
                $0.tls = TLSFiles(certificatePath: "/nonexistent/cert.pem", privateKeyPath: "/nonexistent/key.pem")
            }) { _ in }
        }
        #expect(error?.message.contains("/nonexistent/cert.pem") == true)
    }
}
