import ArgumentParser
import Foundation
import ReplicaStore
import SyncEngine

extension FieldCLI {
    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify",
            abstract: "Check every version's signature against its author's key; list any that fail.",
            discussion: """
                Checks each version this replica holds against the public key of its origin (its \
                own, and those the hub's key directory delivered). Lists versions whose signature \
                does not verify (altered, or forged), and versions whose author's key this replica \
                does not hold yet (sync to get it). Versions that fail are reported to the hub at \
                the next sync. In an encrypted replica, a version whose sealed body does not open \
                (altered on this disk) is listed as invalid too, but not reported.

                Exit status: 0 when no signature fails (versions with unknown keys are listed but \
                do not fail), 65 when any does or any sealed body does not open.

                Examples:
                  fieldcli verify
                  fieldcli verify --json | jq '.invalid'
                """)

        @OptionGroup var options: ReplicaOptions

        func run() async throws {
            let store = try options.open()
            let keys = try store.publicKeys()
            var checked = 0
            var invalid: [StoredVersion] = []
            var unopened: [StoredVersion] = []
            var unknown: [StoredVersion] = []
            var after: Int64 = 0
            var notKept = 0
            while true {
                let all = try store.storedVersions(afterSequence: after, limit: 2_000)
                guard let last = all.last else { break }
                after = last.sequence
                // A body dropped after the hub acknowledged it cannot be checked here; a sealed
                // body that does not open was altered on this disk, with no signature to check.
                let broken = all.filter(\.bodyUnopened)
                unopened += broken
                let page = all.filter { !$0.bodyDropped && !$0.bodyUnopened }
                notKept += all.filter(\.bodyDropped).count
                checked += page.count + broken.count
                let (known, unheld) = (
                    page.filter { keys[$0.version.dot.replica] != nil }, page.filter { keys[$0.version.dot.replica] == nil }
                )
                unknown += unheld
                let failing = SignatureCheck.failuresBlocking(of: known.map(\.version), keys: keys)
                invalid += known.filter { failing.contains($0.version.dot) }
            }
            try store.recordVerificationFailures(invalid.map { VerificationReport(dot: $0.version.dot, reason: .badSignature) })
            let keptApart = try store.unverifiedVersions()
            if options.json {
                try JSONOutput.print([
                    "checked": checked, "valid": checked - invalid.count - unopened.count - unknown.count,
                    "skippedNotKept": notKept,
                    "invalid": invalid.map { Self.entry($0, reason: "the signature does not verify against its author's key") }
                        + unopened.map { Self.entry($0, reason: Self.unopenedReason) },
                    "unknownKey": unknown.map { Self.entry($0, reason: "this replica does not hold its author's key") },
                    "keptApart": keptApart.map {
                        ["dot": $0.version.dot.description, "collection": $0.version.collection.rawValue,
                         "id": $0.version.documentID.rawValue, "origin": $0.version.dot.replica.hex, "reason": $0.reason.rawValue]
                    },
                ])
            } else {
                for stored in invalid {
                    print(Console.highlight("\(stored.version.dot)  \(stored.version.key)  invalid signature: altered or forged"))
                }
                for stored in unopened {
                    print(Console.highlight("\(stored.version.dot)  \(stored.version.key)  \(Self.unopenedReason)"))
                }
                for stored in unknown {
                    print("\(stored.version.dot)  \(stored.version.key)  unknown key: replica \(stored.version.dot.replica.short) (sync to get it)")
                }
                for kept in keptApart {
                    print("\(kept.version.dot)  \(kept.version.key)  kept apart when pulled, never applied: \(kept.reason.rawValue)")
                }
                let failing = invalid.count + unopened.count
                let verdict = failing == 0 ? "all signatures that can be checked hold" : "\(failing) fail"
                print("Checked \(checked) version\(checked == 1 ? "" : "s"): \(verdict); \(unknown.count) with an unknown key.")
                if notKept > 0 {
                    print("Skipped \(notKept) version\(notKept == 1 ? "" : "s") whose body was sent and not kept here.")
                }
            }
            if !invalid.isEmpty || !unopened.isEmpty { throw ExitCode.invalidInput }
        }

        /// Why a version whose sealed body does not open is listed (it is not reported to the hub:
        /// the hub's copy is not the one altered).
        static let unopenedReason = "its encrypted body does not open: altered on this disk"

        static func entry(_ stored: StoredVersion, reason: String) -> [String: Any] {
            ["dot": stored.version.dot.description, "collection": stored.version.collection.rawValue,
             "id": stored.version.documentID.rawValue, "origin": stored.version.dot.replica.hex, "reason": reason]
        }
    }
}
