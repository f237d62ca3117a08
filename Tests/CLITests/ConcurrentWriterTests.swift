import Foundation
import ReplicaStore
import Testing
import TestSupport

/// Two `fieldcli` processes writing one replica at the same time lose nothing and corrupt nothing.
@Suite("fieldcli concurrent writers")
struct ConcurrentWriterTests {
    @Test("two processes putting 50 documents each at once: 100 documents, counter 100, integrity ok")
    func twoWritersAtOnce() async throws {
        let sandbox = try CLISandbox()
        try await sandbox.initialize()
        let perWriter = 50
        let shell = CLIRunner(
            executable: URL(fileURLWithPath: "/bin/sh"), environment: sandbox.shellEnvironment)
        let script = """
            set -e
            i=0
            while [ $i -lt \(perWriter) ]; do
              "$FIELDCLI" put reports --body "{\\"writer\\": \\"$1\\", \\"n\\": $i}" >/dev/null
              i=$((i + 1))
            done
            """
        let environment = ["FIELDCLI": sandbox.runner.executable.path]
        async let first = shell.run(["-c", script, "sh", "a"], environment: environment, timeout: .seconds(300))
        async let second = shell.run(["-c", script, "sh", "b"], environment: environment, timeout: .seconds(300))
        let results = try await [first, second]
        for result in results { #expect(result.succeeded, "\(result)") }

        let status = try await sandbox.succeed("status", "--json").json()
        #expect(status["counter"] as? Int == 2 * perWriter)
        #expect(status["versions"] as? Int == 2 * perWriter)
        #expect((status["documents"] as? [String: Int])?["reports"] == 2 * perWriter)
        let listed = try await sandbox.succeed("list", "reports", "--limit", "1000", "--json").json()
        let bodies = (listed["documents"] as? [[String: Any]] ?? []).compactMap {
            ($0["siblings"] as? [[String: Any]])?.first?["body"] as? [String: Any]
        }
        let written = Set(bodies.compactMap { body in
            (body["writer"] as? String).flatMap { writer in (body["n"] as? Int).map { "\(writer)\($0)" } }
        })
        #expect(written.count == 2 * perWriter)
        #expect(try CLISandbox.open(sandbox.replicaPath).integrityProblems().isEmpty)
    }
}
