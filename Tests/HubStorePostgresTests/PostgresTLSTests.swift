import Foundation
@testable import HubStorePostgres
import Logging
import PostgresNIO
import Testing

/// The hub's connection to PostgreSQL over TLS, against the test server with TLS on and a
/// certificate for localhost (a DNS name only) from a private root, `VIGIL_TEST_POSTGRES_CA`
/// (.ci/run makes both; Docs/Testing.md). Replays a man in the middle: a server whose certificate
/// does not chain to the roots the address names, or does not name the host, is never spoken to.
@Suite(.enabled(if: PostgresTestDatabase.isEnabled, PostgresTestDatabase.disabledReason), .serialized)
struct PostgresTLSTests {
    /// The test server's address with `parameters`, and `host` in place of its own.
    private func address(host: String? = nil, _ parameters: String) throws -> String {
        guard let base = PostgresTestDatabase.address, var components = URLComponents(string: base) else {
            throw PostgresTestDatabase.Unavailable(description: "VIGIL_TEST_POSTGRES is unset.")
        }
        if let host { components.host = host }
        components.query = parameters
        guard let address = components.string else {
            throw PostgresTestDatabase.Unavailable(description: "VIGIL_TEST_POSTGRES does not take parameters.")
        }
        return address
    }

    private func rootCertificates() throws -> String {
        guard let path = ProcessInfo.processInfo.environment["VIGIL_TEST_POSTGRES_CA"], !path.isEmpty else {
            throw PostgresTestDatabase.Unavailable(
                description: "VIGIL_TEST_POSTGRES_CA is unset: the test server needs TLS on and its root's PEM file named (.ci/run).")
        }
        return path
    }

    /// Whether the connection `address` makes is encrypted (`pg_stat_ssl`), or the error the hub's
    /// check of a new connection pool throws.
    private func connect(_ address: String) async throws -> Result<Bool, PostgresStoreError> {
        let failures = PostgresConnectionFailures()
        let client = PostgresClient(
            configuration: try PostgresClient.Configuration(address: address),
            backgroundLogger: failures.recording(PostgresTestDatabase.quiet))
        return try await withThrowingTaskGroup(of: Result<Bool, PostgresStoreError>?.self) { group in
            group.addTask {
                await client.run()
                return nil
            }
            defer { group.cancelAll() }
            do {
                try await PostgresHub.reachable(
                    client, within: .seconds(10), logger: PostgresTestDatabase.quiet, failures: failures)
            } catch let error as PostgresStoreError {
                return .failure(error)
            }
            let rows = try await client.query(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", logger: PostgresTestDatabase.quiet)
            var ssl = false
            for try await value in rows.decode(Bool.self) { ssl = value }
            return .success(ssl)
        }
    }

    /// The code of the failure of `outcome`, nil when it connected.
    private func refusal(_ outcome: Result<Bool, PostgresStoreError>) -> PostgresStoreError.Code? {
        guard case .failure(let error) = outcome else { return nil }
        return error.code
    }

    @Test func verifyFullWithTheServersRootConnectsEncrypted() async throws {
        let root = try rootCertificates()
        let verified = try await connect(address(host: "localhost", "sslmode=verify-full&sslrootcert=\(root)"))
        #expect(try verified.get() == true)
        #expect(try await connect(address("sslmode=require")).get() == true)
        #expect(try await connect(address("sslmode=verify-ca&sslrootcert=\(root)")).get() == true)
        // Plain text, the default on loopback, where the server allows it.
        #expect(try await connect(address("sslmode=disable")).get() == false)
    }

    @Test func aCertificateFromAnotherRootIsRefusedAtOnce() async throws {
        // The system's roots do not hold the test server's private root: as a man in the middle
        // with a certificate of its own would be, it is never spoken to, and the check does not
        // wait out its 10 seconds to say so.
        _ = try rootCertificates()
        let started = ContinuousClock.now
        #expect(refusal(try await connect(address(host: "localhost", "sslmode=verify-full"))) == .tlsRefused)
        #expect(refusal(try await connect(address("sslmode=verify-ca"))) == .tlsRefused)
        #expect(ContinuousClock.now - started < .seconds(15))
    }

    @Test func aCertificateThatDoesNotNameTheHostIsRefusedByVerifyFull() async throws {
        // The certificate names localhost, not 127.0.0.1: verify-full refuses it there, verify-ca
        // (the root alone) takes it.
        let root = try rootCertificates()
        #expect(refusal(try await connect(address("sslmode=verify-full&sslrootcert=\(root)"))) == .tlsRefused)
        #expect(try await connect(address("sslmode=verify-ca&sslrootcert=\(root)")).get() == true)
    }

    @Test func aServerThatIsNotThereIsUnreachableWithTheReason() async throws {
        let outcome = try await connect("postgres://vigil:secret@127.0.0.1:1/vigil")
        guard case .failure(let error) = outcome else {
            Issue.record("port 1 answered")
            return
        }
        #expect(error.code == .unreachable)
        #expect(error.message.contains("The last attempt failed"), "\(error.message)")
    }
}
