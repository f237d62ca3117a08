import ArgumentParser
import Foundation
import ReplicaStore
import SyncCommandLine

extension FieldCLI {
    struct Unlock: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "unlock",
            abstract: "Unlock an encrypted replica for a while, so commands stop asking for its passphrase.",
            discussion: """
                Asks for the passphrase once (or reads --passphrase-file), then hands the replica's \
                data key to a small agent process that holds it in memory and gives it, over a \
                socket only you can reach, to every command on this replica until the time is up \
                (at most 24h) or `fieldcli lock`. Run it again to feed the agent a new time. \
                `syncd run` does not use the agent: it unlocks once at start.

                While unlocked, whoever uses this account on the running device can read the \
                replica without the passphrase: lock it before the device may be taken.

                Examples:
                  fieldcli unlock --for 8h
                  fieldcli unlock --for 30m
                """)

        @OptionGroup var options: ReplicaOptions

        @Option(
            name: .customLong("for"),
            help: ArgumentHelp("How long: a whole number and s, m or h (at most 24h).", valueName: "duration"))
        var duration = "1h"

        /// The hidden subcommand that runs the agent.
        static let agentArguments = ["unlock-agent", "--key-id"]

        func validate() throws {
            guard Self.seconds(duration) != nil else {
                throw ValidationError("--for takes a whole number and s, m or h, from 1s to 24h (like 30m or 8h).")
            }
        }

        /// `duration` (`90s`, `30m`, `8h`) in seconds, when from 1 second to 24 hours.
        static func seconds(_ duration: String) -> Int? {
            guard let unit = duration.last, let count = Int(duration.dropLast()), count > 0, count <= 86_400 else { return nil }
            let seconds: Int
            switch unit {
            case "s": seconds = count
            case "m": seconds = count * 60
            case "h": seconds = count * 3600
            default: return nil
            }
            return seconds <= UnlockAgent.maximumSeconds ? seconds : nil
        }

        func run() async throws {
            let path = options.resolvedPath
            var storeOptions = ReplicaStore.Options()
            let passphrases = options.passphrases
            storeOptions.passphrase = { try passphrases.unlock(replicaPath: path) }
            let key = try ReplicaStore.dataKey(at: path, options: storeOptions)
            let seconds = Self.seconds(duration) ?? 3600
            try UnlockAgent.feed(key, seconds: seconds, arguments: Self.agentArguments + [key.id])
            let until = Date().addingTimeInterval(TimeInterval(seconds))
            if options.json {
                try JSONOutput.print(["path": path, "unlocked": true, "seconds": seconds, "until": ISO8601DateFormatter().string(from: until)])
            } else {
                print("Unlocked \(path) for \(duration), until \(ISO8601DateFormatter().string(from: until)); `fieldcli lock` ends it sooner.")
            }
        }
    }

    struct UnlockAgentProcess: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "unlock-agent",
            abstract: "Run the unlock agent of one replica (started by `fieldcli unlock`).",
            shouldDisplay: false)

        @Option(name: .customLong("key-id"), help: "The id of the data key the agent holds.")
        var keyID: String

        func run() async throws {
            try UnlockAgent(keyID: keyID).run()
        }
    }

    struct Lock: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "lock",
            abstract: "End an unlock at once: the agent forgets the replica's data key and stops.",
            discussion: """
                Succeeds also when no agent runs for the replica (it says so). Afterwards every \
                command asks for the passphrase again.

                Example:
                  fieldcli lock
                """)

        @OptionGroup var options: ReplicaOptions

        func run() async throws {
            let path = options.resolvedPath
            guard FileManager.default.fileExists(atPath: path) else {
                throw StoreError(.replicaMissing, "There is no replica at \(path).")
            }
            let keyID = try ReplicaStore.dataKeyID(at: path)
            let locked = keyID.map { UnlockAgentClient().lock(keyID: $0) } ?? false
            if options.json {
                try JSONOutput.print(["path": path, "encrypted": keyID != nil, "agentStopped": locked])
            } else if keyID == nil {
                print("\(path) is not encrypted; there is nothing to lock.")
            } else if locked {
                print("Locked \(path): the unlock agent forgot its key and stopped.")
            } else {
                print("No unlock agent holds the key of \(path); it is locked already.")
            }
        }
    }
}
