import ArgumentParser
import Foundation
import SyncEngine
import SyncHub

extension Syncd {
    /// `syncd audit`: the hub's append-only audit log, on the hub machine. Works on the hub's
    /// database directly (no HTTP), its SQLite file or its PostgreSQL schema, also while
    /// `syncd serve` runs.
    struct Audit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Read the hub's audit log, print its head, and check its hash chain and signatures.",
            subcommands: [List.self, Head.self, Verify.self])

        /// The exit code of `syncd audit verify` (and `head`) when an entry breaks the chain or
        /// its signature (EX_DATAERR).
        static let brokenChain = ExitCode(65)
        /// The exit code of `syncd audit verify --head` when no entry has the head's hash: the log
        /// was cut at or before it, or rewritten from before it (EX_NOINPUT).
        static let headMissing = ExitCode(66)
    }
}

extension Syncd.Audit {
    /// `syncd audit list`.
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List audit entries, oldest first: enrollments, scope changes, revocations, quarantines, resolutions.")

        @OptionGroup var hub: HubBackendOptions

        @Option(help: ArgumentHelp("List the entries after this sequence number.", valueName: "n"))
        var after: Int64 = 0

        @Option(help: ArgumentHelp("At most this many entries (default 100).", valueName: "n"))
        var limit = 100

        @Flag(help: "Print one JSON document on stdout.")
        var json = false

        func validate() throws {
            if after < 0 { throw ValidationError("--after takes a sequence number, 0 or more.") }
            if !(1...100_000).contains(limit) { throw ValidationError("--limit takes a number from 1 to 100000.") }
        }

        func run() async throws {
            let (entries, more) = await hub.withAuditLog { audit in try await audit.entries(after: after, limit: limit) }
            if json {
                let objects: [[String: Any]] = entries.map { entry in
                    [
                        "sequence": entry.sequence, "at": Syncd.Devices.time(entry.at), "actor": entry.actor,
                        "action": entry.action.rawValue, "subject": entry.subject, "detail": entry.detail,
                        "previousHash": Self.hex(entry.previousHash), "hash": Self.hex(entry.hash),
                        "format": entry.format.rawValue, "signature": entry.signature.map { Self.hex($0) as Any } ?? NSNull(),
                    ]
                }
                let data = try JSONSerialization.data(
                    withJSONObject: ["entries": objects, "more": more], options: [.sortedKeys, .withoutEscapingSlashes])
                print(String(decoding: data, as: UTF8.self))
                return
            }
            guard !entries.isEmpty else {
                print(after == 0 ? "The audit log is empty." : "No audit entries after #\(after).")
                return
            }
            for entry in entries {
                let detail = entry.detail.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
                print(
                    "#\(entry.sequence)  \(Syncd.Devices.time(entry.at))  \(entry.actor)  \(entry.action)  \(entry.subject)\(detail.isEmpty ? "" : "  \(detail)")")
            }
            if more, let last = entries.last {
                print("More entries follow: syncd audit list --after \(last.sequence)")
            }
        }

        static func hex(_ data: Data) -> String { data.map { String(format: "%02x", $0) }.joined() }
    }

    /// `syncd audit head`.
    struct Head: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the newest audit entry's sequence number and hash, to keep somewhere else.",
            discussion: """
                Prints '#SEQUENCE HASH'. Keep the hash off the hub machine (a notebook, another \
                server); later, syncd audit verify --head HASH checks that the log still holds \
                that entry and everything before it unchanged. Exits 65 when the newest entry's \
                signature is not this hub's.
                """)

        @OptionGroup var hub: HubBackendOptions

        @Flag(help: "Print one JSON document on stdout.")
        var json = false

        func run() async throws {
            guard let newest = await hub.withAuditLog({ audit in try await audit.head() }) else {
                if json {
                    print(#"{"hash":null,"sequence":0,"signed":false}"#)
                } else {
                    print("The audit log is empty; there is no head yet.")
                }
                return
            }
            let (entry, signed) = newest
            if json {
                let object: [String: Any] = ["sequence": entry.sequence, "hash": List.hex(entry.hash), "signed": signed]
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            } else {
                print("#\(entry.sequence) \(List.hex(entry.hash))")
            }
            if entry.format == .signed && !signed {
                FileHandle.standardError.write(Data("syncd: \(AuditChainBreak(sequence: entry.sequence, problem: .badSignature))\n".utf8))
                throw Syncd.Audit.brokenChain
            }
            if entry.format == .unsigned {
                FileHandle.standardError.write(
                    Data("syncd: the newest entry was written before the hub signed its log; its hash is kept all the same.\n".utf8))
            }
        }
    }

    /// `syncd audit verify`.
    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the audit log's hash chain and signatures, and against a head kept elsewhere.",
            discussion: """
                Every entry carries the hash of the one before it and is signed with the hub's key, \
                which lives in the key file beside the database, not in it (on PostgreSQL it is \
                in the database: there only the chain and a kept head protect the log). An entry \
                changed, removed, inserted or reordered in the database breaks the chain; \
                recomputing the hashes breaks the signatures. Removing the newest entries leaves a shorter log that \
                still verifies: keep the hash syncd audit head prints somewhere else, and give it \
                with --head. Entries written before the hub signed its log are reported as unsigned.

                Exit status: 0 the log is intact (and holds the head); 65 an entry breaks the chain \
                or its signature (named on stderr); 66 no entry has the --head hash; 1 the database \
                or its key file cannot be read; 69 the PostgreSQL server cannot be reached; 64 a \
                malformed --head.
                """)

        @OptionGroup var hub: HubBackendOptions

        @Option(help: ArgumentHelp("A hash printed earlier by syncd audit head (64 hex digits).", valueName: "hash"))
        var head: String?

        func validate() throws {
            if let head, AuditChain.parseHead(head) == nil {
                throw ValidationError("--head takes the 64 hexadecimal digits syncd audit head printed.")
            }
        }

        func run() async throws {
            let expected = head.flatMap(AuditChain.parseHead)
            let (result, pending) = await hub.withAuditLog { audit in
                (try await audit.verify(head: expected), try await audit.pendingSuppressedCounts())
            }
            switch result.verdict {
            case .intact(let position):
                Self.report(position)
                Self.reportPending(pending)
            case .broken(let broken):
                FileHandle.standardError.write(Data("syncd: \(broken.description)\n".utf8))
                throw Syncd.Audit.brokenChain
            }
            switch result.head {
            case .notGiven:
                break
            case .found(let sequence):
                print("The head you kept, #\(sequence), is in the log, unchanged with everything before it.")
            case .missing:
                FileHandle.standardError.write(
                    Data("syncd: no entry of the audit log has the hash \(head ?? ""): the log was cut at or before that head, or rewritten from before it.\n".utf8))
                throw Syncd.Audit.headMissing
            }
        }

        static func report(_ position: AuditChain.Position) {
            switch position.count {
            case 0: print("The audit log is empty; there is nothing to check.")
            case 1: print("The audit log's 1 entry chains correctly.")
            default: print("The audit log's \(position.count) entries chain correctly.")
            }
            guard position.count > 0 else { return }
            if position.lastUnsigned == 0 {
                print("Every entry is signed by this hub's key.")
            } else if position.lastUnsigned == position.sequence {
                print("No entry is signed: all were written before the hub signed its log (unsigned through #\(position.lastUnsigned)).")
            } else {
                print("Entries before #\(position.lastUnsigned + 1) are unsigned (written before the hub signed its log); every later one is signed by this hub's key.")
            }
            print("The newest is #\(position.sequence), hash \(List.hex(position.hash)).")
        }

        /// What devices caused beyond their hourly limit and is not written yet.
        static func reportPending(_ counts: [String: [String: Int]]) {
            for (device, kinds) in counts.sorted(by: { $0.key < $1.key }) {
                let text = kinds.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
                print("Counted beyond its hourly limit, written with the first entry after the hour: device \(device): \(text).")
            }
        }
    }
}
