import AtRest
import Foundation
import ReplicaStore
@testable import SyncCommandLine
import Testing
import TestSupport

/// `fieldcli unlock --for`, the unlock agent it starts, and `fieldcli lock`, through the built
/// binary. Each test gives its runs an `XDG_RUNTIME_DIR` of its own, so its agents are its own;
/// every agent is told to lock (or runs out) before the test ends.
@Suite("Unlock agent")
struct UnlockAgentTests {
    static let agentUnavailable: Int32 = 84

    /// An encrypted replica and a private runtime folder for its agent.
    struct Unlocked {
        let field: EncryptedReplicaTests.Field
        let runtime: String

        init() async throws {
            field = try EncryptedReplicaTests.Field()
            runtime = field.sandbox.path("r")
            #expect(mkdir(runtime, 0o700) == 0)
            try await field.initialize()
        }

        var location: UnlockAgentLocation { UnlockAgentLocation(environment: ["XDG_RUNTIME_DIR": runtime]) }

        /// `fieldcli ARGUMENTS --db REPLICA` with this runtime folder; the passphrase file only
        /// when `passphrase` (no terminal either way: stdin is /dev/null and tests have no tty).
        func run(_ arguments: [String], passphrase: Bool = false) async throws -> CLIResult {
            let all = arguments + ["--db", field.replica] + (passphrase ? ["--passphrase-file", field.passphraseFile] : [])
            return try await field.sandbox.runner.run(
                all, environment: ["XDG_RUNTIME_DIR": runtime, "VIGIL_SCRYPT_LOGN": "10", "VIGIL_PASSPHRASE_FILE": ""])
        }

        func socket() throws -> String {
            location.socketPath(keyID: try #require(try ReplicaStore.dataKeyID(at: field.replica)))
        }

        /// Waits (at most `seconds`) until nothing listens on the agent's socket.
        func waitForAgentToEnd(seconds: Int) async throws -> Bool {
            let deadline = ContinuousClock.now + .seconds(seconds)
            let keyID = try #require(try ReplicaStore.dataKeyID(at: field.replica))
            while ContinuousClock.now < deadline {
                if UnlockAgentClient(location: location).exchange(keyID: keyID, "GET \(keyID)") == nil { return true }
                try await Task.sleep(for: .milliseconds(100))
            }
            return false
        }
    }

    static var hasNoTerminal: Bool {
        let tty = open("/dev/tty", O_RDWR | O_NOCTTY)
        if tty >= 0 { close(tty) }
        return tty < 0
    }

    /// The observer unlocks for a while; commands then need no passphrase; `lock` ends it and
    /// the same commands fail as they did before (no passphrase, no terminal: exit 80).
    @Test("after unlock, put and get need no passphrase; after lock they exit 80", .enabled(if: hasNoTerminal))
    func unlockThenLock() async throws {
        let unlocked = try await Unlocked()
        let before = try await unlocked.run(["put", "reports", "--body", #"{"title": "x"}"#])
        #expect(before.exitCode == EncryptedReplicaTests.locked, "\(before)")

        let unlock = try await unlocked.run(["unlock", "--for", "30s"], passphrase: true)
        #expect(unlock.succeeded && unlock.stdout.contains("Unlocked"), "\(unlock)")
        #expect(FilePermissionTests.mode(unlocked.location.directory) == 0o700)
        #expect(FilePermissionTests.mode(try unlocked.socket()) == 0o600)
        let put = try await unlocked.run(["put", "reports", "--body", #"{"title": "Bridge at Zalingei closed"}"#])
        #expect(put.succeeded, "\(put)")
        let get = try await unlocked.run(["get", "reports", put.output])
        #expect(get.succeeded && get.stdout.contains("Zalingei"), "\(get)")

        let lock = try await unlocked.run(["lock"])
        #expect(lock.succeeded && lock.stdout.contains("Locked"), "\(lock)")
        #expect(try await unlocked.waitForAgentToEnd(seconds: 5))
        for arguments in [["get", "reports", put.output], ["put", "reports", "--body", #"{"title": "y"}"#]] {
            let refused = try await unlocked.run(arguments)
            #expect(refused.exitCode == EncryptedReplicaTests.locked, "\(refused)")
        }
        let again = try await unlocked.run(["lock"])
        #expect(again.succeeded && again.stdout.contains("No unlock agent"), "\(again)")
    }

    /// An observer who forgets to lock: the agent ends by itself when its time is up (5 s here:
    /// long enough for one command on a loaded machine), forgetting the key, and the replica asks
    /// for its passphrase again.
    @Test("the agent stops by itself when its time is up", .enabled(if: hasNoTerminal))
    func agentExpires() async throws {
        let unlocked = try await Unlocked()
        // 20 s: under the whole suite on two cores (and in the encrypted run) a 5 s agent ended
        // before the next command had started.
        let unlock = try await unlocked.run(["unlock", "--for", "20s"], passphrase: true)
        #expect(unlock.succeeded, "\(unlock)")
        #expect(try await unlocked.run(["status"]).succeeded)
        #expect(try await unlocked.waitForAgentToEnd(seconds: 60))
        #expect(!FileManager.default.fileExists(atPath: try unlocked.socket()))
        let refused = try await unlocked.run(["status"])
        #expect(refused.exitCode == EncryptedReplicaTests.locked, "\(refused)")
    }

    @Test("unlock feeds a running agent a new time; a wrong passphrase starts nothing")
    func feedAndWrongPassphrase() async throws {
        let unlocked = try await Unlocked()
        let wrong = unlocked.field.sandbox.path("wrong")
        try EncryptedReplicaTests.Field.writePrivate(wrong, "not the passphrase\n")
        let refused = try await unlocked.field.sandbox.runner.run(
            ["unlock", "--for", "1m", "--db", unlocked.field.replica, "--passphrase-file", wrong],
            environment: ["XDG_RUNTIME_DIR": unlocked.runtime, "VIGIL_SCRYPT_LOGN": "10"])
        #expect(refused.exitCode == EncryptedReplicaTests.wrongPassphrase, "\(refused)")
        #expect(!FileManager.default.fileExists(atPath: try unlocked.socket()))

        #expect(try await unlocked.run(["unlock", "--for", "5s"], passphrase: true).succeeded)
        #expect(try await unlocked.run(["unlock", "--for", "1m"], passphrase: true).succeeded)
        let keyID = try #require(try ReplicaStore.dataKeyID(at: unlocked.field.replica))
        let answer = try #require(UnlockAgentClient(location: unlocked.location).exchange(keyID: keyID, "GET \(keyID)"))
        let left = Int(answer.split(separator: " ").last ?? "") ?? 0
        #expect(answer.hasPrefix("KEY ") && left > 30, "\(answer.prefix(4)) \(left)")
        #expect(try await unlocked.run(["lock"]).succeeded)
        #expect(try await unlocked.waitForAgentToEnd(seconds: 20))
    }

    @Test("--for is bounded: 0, 25h and words are usage errors", arguments: ["0s", "25h", "8 hours", "h", "-1m"])
    func boundedDuration(duration: String) async throws {
        let unlocked = try await Unlocked()
        let result = try await unlocked.run(["unlock", "--for", duration], passphrase: true)
        #expect(result.exitCode == Exit.usage, "\(result)")
    }

    /// Another user (or a careless setup) made the agents' folder enterable by others: the agent
    /// is not used, and unlock says so with its own exit code.
    @Test("an agents' folder others can enter is refused with exit 84")
    func exposedFolder() async throws {
        let unlocked = try await Unlocked()
        #expect(mkdir(unlocked.location.directory, 0o755) == 0)
        #expect(chmod(unlocked.location.directory, 0o755) == 0)
        let result = try await unlocked.run(["unlock", "--for", "10s"], passphrase: true)
        #expect(result.exitCode == Self.agentUnavailable, "\(result)")
        #expect(result.stderr.contains("not private"), "\(result)")
    }

    @Test("wipe stops the agent of the replica it destroys")
    func wipeLocks() async throws {
        let unlocked = try await Unlocked()
        #expect(try await unlocked.run(["unlock", "--for", "1m"], passphrase: true).succeeded)
        let socket = try unlocked.socket()
        #expect(try await unlocked.run(["wipe", "--now"]).succeeded)
        let deadline = ContinuousClock.now + .seconds(5)
        while FileManager.default.fileExists(atPath: socket), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(!FileManager.default.fileExists(atPath: socket))
    }

    /// The protocol's bounds, on the agent's answer function: requests for another key id,
    /// malformed keys, times beyond 24 h and unknown verbs are refused; GET answers NONE before
    /// a key arrives; LOCK forgets the key.
    @Test("the agent answers only well-formed requests for its own key id")
    func protocolAnswers() throws {
        let key = DataKey.random()
        let agent = UnlockAgent(keyID: key.id)
        var state = UnlockAgent.State(key: nil, deadline: UnlockAgent.now() + 10)
        let base64 = key.rawBytes.base64EncodedString()
        #expect(agent.answer("GET \(key.id)", &state) == "NONE")
        #expect(agent.answer("PUT \(DataKey.random().id) \(base64) 60", &state) == "ERR")
        #expect(agent.answer("PUT \(key.id) \(base64) 86401", &state) == "ERR")
        #expect(agent.answer("PUT \(key.id) AAAA 60", &state) == "ERR")
        #expect(agent.answer("DUMP \(key.id)", &state) == "ERR")
        #expect(agent.answer("PUT \(key.id) \(base64) 60", &state) == "OK 60")
        #expect(agent.answer("GET \(key.id)", &state).hasPrefix("KEY \(base64) "))
        #expect(agent.answer("GET \(DataKey.random().id)", &state) == "ERR")
        #expect(agent.answer("LOCK \(key.id)", &state) == "OK")
        #expect(state.key == nil && state.stopping)
    }
}
