import ArgumentParser

/// `fieldcli`: record, inspect and resolve incident reports on a local replica, fully offline.
@main
struct FieldCLI: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fieldcli",
        abstract: "Record, inspect and resolve reports on a local Vigil replica, offline.",
        discussion: """
            Every command works on one replica file: --db PATH, else $VIGIL_DB, else \
            $XDG_DATA_HOME/vigil/replica.sqlite (~/.local/share/vigil/replica.sqlite). Add --json \
            for one JSON document on stdout.

            Examples:
              fieldcli init
              fieldcli put reports --body '{"title": "Checkpoint closed", "region": "north"}'
              fieldcli list reports --limit 10
              fieldcli conflicts list

            Exit codes: 0 success, 1 unexpected, 64 usage, 65 invalid input, 66 no replica, \
            67 document not found, 68 conflict, 69 hub unreachable, 70 not a replica, \
            71 replica exists, 73 cannot write, 74 disk full or I/O error, 75 replica busy, \
            76 device key file, 77 refused by hub (unknown or revoked device, refused enrollment), \
            78 protocol mismatch, 79 wrong passphrase, 80 encrypted replica and no passphrase \
            (no terminal, no passphrase file), 81 another hub answered than the enrolled one, \
            82 import refused (invalid lines, nothing written), 83 import wrote the valid lines and \
            skipped the invalid ones (--skip-invalid), 84 unlock agent unavailable, 86 attachment not on this device, 87 attachment refused by the hub \
            (size limit, quota) or failing its SHA-256, 90 bundle cut short, altered or unreadable \
            (nothing imported), 91 bundle of another network. `fieldcli verify` exits 65 when a signature fails.
            """,
        subcommands: [
            Init.self, Put.self, Edit.self, Get.self, List.self, Delete.self, History.self, Conflicts.self,
            Status.self, Sync.self, Record.self, Observations.self, Situations.self, Warnings.self,
            Participants.self, Export.self, Import.self, Enroll.self, Verify.self, Encrypt.self, ChangePassphrase.self, Wipe.self,
            Unlock.self, Lock.self, Duress.self, Config.self, UnlockAgentProcess.self, Attach.self, Attachments.self,
            BundleCommand.self,
        ]
    )

    /// Parses and runs a command; a failure prints one sentence on stderr and exits with the
    /// code of its kind (see `ExitCodes.swift`).
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(with: error)
        }
    }

    private static func exit(with error: any Error) -> Never {
        if let diagnostic = Diagnostic(error) {
            Console.diagnose(diagnostic.message)
            Self.exit(withError: diagnostic.exitCode)
        }
        let code = exitCode(for: error)
        if code == .success || error is ExitCode {
            Self.exit(withError: error)
        }
        var message = message(for: error).trimmingCharacters(in: .whitespacesAndNewlines).firstLine
        if message.hasSuffix(".") { message.removeLast() }
        let isUsage = code == .validationFailure
        Console.diagnose(
            isUsage ? "\(message) (see `fieldcli help`)." : "An unexpected failure stopped the command: \(message)")
        Self.exit(withError: isUsage ? ExitCode.usage : ExitCode.unexpected)
    }
}

extension String {
    fileprivate var firstLine: String {
        String(split(separator: "\n", maxSplits: 1).first ?? "")
    }
}
