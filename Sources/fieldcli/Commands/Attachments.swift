import ArgumentParser
import Foundation
import Logging
import ReplicaStore
import SyncClient
import SyncCommandLine
import SyncEngine

extension FieldCLI {
    /// `fieldcli attachments COLLECTION ID`, `attachments get`, `attachments fetch`.
    struct Attachments: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "attachments",
            abstract: "List a document's attachments, write one out, or fetch missing ones from the hub.",
            discussion: """
                Exit codes: 86 when the attachment is not on this device (fetch it first), 87 when \
                the hub refused an attachment (over its size limit or this device's quota) or a \
                fetched one failed its checks.

                Examples:
                  fieldcli attachments observations 0190c6a4-7f2b-7c3e-9a51-2d3e4f5a6b7c
                  fieldcli attachments fetch observations 0190c6a4-7f2b-7c3e-9a51-2d3e4f5a6b7c
                  fieldcli attachments get observations 0190c6a4-7f2b-7c3e-9a51-2d3e4f5a6b7c 3a7bd3e2… --out photo.jpg
                """,
            subcommands: [ListAttachments.self, GetAttachment.self, FetchAttachments.self],
            defaultSubcommand: ListAttachments.self)

        /// The attachments the document's current version(s) name.
        static func named(in document: StoredDocument) -> [NamedAttachment] {
            var seen = Set<String>()
            return document.siblings.compactMap(\.body).flatMap(AttachmentNames.references).filter {
                seen.insert($0.sha256).inserted
            }
        }

        /// The command that fetches `hash` of `key` (or all of its missing attachments).
        static func fetchCommand(_ key: DocumentKey, _ hash: String? = nil) -> String {
            "fieldcli attachments fetch \(key.collection) \(key.id)" + (hash.map { " " + $0 } ?? "")
        }
    }
}

extension FieldCLI.Attachments {
    struct ListAttachments: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list", abstract: "List a document's attachments: name, type, size, held here or not.")

        @OptionGroup var options: ReplicaOptions
        @OptionGroup var document: DocumentArguments

        func run() async throws {
            let key = try document.key()
            let store = try options.open()
            let named = FieldCLI.Attachments.named(in: try store.documentWithBody(key))
            let holdings = try store.attachmentHoldings(named.map(\.sha256))
            if options.json {
                try JSONOutput.print([
                    "attachments": named.map { attachment -> [String: Any] in
                        let holding = holdings[attachment.sha256] ?? .missing
                        return [
                            "sha256": attachment.sha256, "filename": attachment.filename ?? NSNull(),
                            "mime": attachment.mime ?? NSNull(), "sizeBytes": attachment.sizeBytes ?? NSNull(),
                            "held": holding == .held, "status": Self.status(holding),
                        ]
                    }
                ])
                return
            }
            guard !named.isEmpty else {
                print("\(key) names no attachments.")
                return
            }
            for attachment in named {
                let holding = holdings[attachment.sha256] ?? .missing
                let size = attachment.sizeBytes.map { "\(ByteCount($0))" } ?? "size unknown"
                var line =
                    "\(attachment.filename ?? "(no name)")  \(attachment.mime ?? "type unknown")  \(size)  \(attachment.sha256)  "
                switch holding {
                case .held: line += "held"
                case .partial(let held, let count):
                    line += "not on this device (\(held) of \(count) chunks); fetch: \(FieldCLI.Attachments.fetchCommand(key, attachment.sha256))"
                case .missing:
                    line += "not on this device; fetch: \(FieldCLI.Attachments.fetchCommand(key, attachment.sha256))"
                }
                print(line)
            }
        }

        static func status(_ holding: AttachmentHolding) -> String {
            switch holding {
            case .held: "held"
            case .partial: "partial"
            case .missing: "missing"
            }
        }
    }

    struct GetAttachment: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "get",
            abstract: "Write one attachment out to a file, each chunk and the whole checked against their SHA-256.")

        @OptionGroup var options: ReplicaOptions
        @OptionGroup var document: DocumentArguments

        @Argument(help: ArgumentHelp("The attachment's SHA-256 (as `fieldcli attachments` lists it).", valueName: "sha256"))
        var hash: String

        @Option(help: ArgumentHelp("The file to write; it must not exist yet.", valueName: "path"))
        var out: String

        func run() async throws {
            let key = try document.key()
            let store = try options.open()
            let named = FieldCLI.Attachments.named(in: try store.documentWithBody(key))
            guard let attachment = named.first(where: { $0.sha256 == hash.lowercased() }) else {
                throw InvalidInput("\(key) names no attachment \(hash); `fieldcli attachments \(key.collection) \(key.id)` lists them.")
            }
            guard try store.attachmentHoldings([attachment.sha256])[attachment.sha256] == .held else {
                Console.diagnose(
                    "The attachment \(attachment.filename ?? attachment.sha256) is not on this device; fetch it with `\(FieldCLI.Attachments.fetchCommand(key, attachment.sha256))`.")
                throw ExitCode.attachmentMissing
            }
            // Only its owner may read the decrypted file (mode 0600; it was 0644), and a `.partial`
            // left by another run is not written over.
            guard !FileManager.default.fileExists(atPath: out), !FileManager.default.fileExists(atPath: out + ".partial"),
                FileManager.default.createFile(
                    atPath: out + ".partial", contents: nil, attributes: [.posixPermissions: 0o600]),
                let handle = FileHandle(forWritingAtPath: out + ".partial")
            else {
                throw InvalidInput("Cannot write \(out): it or \(out).partial exists already, or its folder is not writable.")
            }
            let verified: Bool
            do {
                defer { try? handle.close() }
                verified = try store.writeAttachment(attachment.sha256) { try handle.write(contentsOf: $0) }
            } catch {
                // A failure midway (a full disk, a chunk that does not open) leaves no decrypted part.
                try? FileManager.default.removeItem(atPath: out + ".partial")
                throw error
            }
            guard verified else {
                try? FileManager.default.removeItem(atPath: out + ".partial")
                Console.diagnose(
                    "The attachment \(attachment.sha256) held here does not match its SHA-256; nothing was written. Fetch it again with `\(FieldCLI.Attachments.fetchCommand(key, attachment.sha256))`.")
                throw ExitCode.attachmentRefused
            }
            try FileManager.default.moveItem(atPath: out + ".partial", toPath: out)
            if options.json {
                try JSONOutput.print(["sha256": attachment.sha256, "out": out, "verified": true])
            } else {
                print(out)
            }
        }
    }

    struct FetchAttachments: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "fetch",
            abstract: "Fetch a document's attachments that are not on this device from the hub (all, or one by its SHA-256).",
            discussion: """
                Fetches on demand, whatever this device's media policy at the hub; the hub sends \
                only attachments named by documents this device may read. A cut link resumes from \
                the last whole chunk at the next fetch or sync.
                """)

        @OptionGroup var options: ReplicaOptions
        @OptionGroup var connection: HubConnectionOptions
        @OptionGroup var document: DocumentArguments

        @Argument(help: ArgumentHelp("Only this attachment's SHA-256.", valueName: "sha256"))
        var hash: String?

        func run() async throws {
            let key = try document.key()
            let store = try options.open()
            var wanted = FieldCLI.Attachments.named(in: try store.documentWithBody(key)).map(\.sha256)
            if let hash { wanted = wanted.filter { $0 == hash.lowercased() } }
            guard !wanted.isEmpty else {
                throw InvalidInput("\(key) names no such attachment; `fieldcli attachments \(key.collection) \(key.id)` lists them.")
            }
            let report: AttachmentTransfer.Report
            do {
                let (_, transport) = try connection.connect(store: store)
                report = try await AttachmentTransfer(
                    store: store, transport: transport, logger: Logger(label: "fieldcli.attachments") { _ in SwiftLogNoOpLogHandler() }
                ).fetch(wanted)
            } catch let error as SyncClientError {
                Console.diagnose(error.messageWithAdvice)
                throw error.code.exitCode
            }
            let holdings = try store.attachmentHoldings(wanted)
            let held = wanted.filter { holdings[$0] == .held }.count
            if options.json {
                try JSONOutput.print([
                    "fetched": report.downloaded, "held": held, "wanted": wanted.count, "notOnHub": report.notOnHub,
                    "bytesReceived": report.bytesReceived,
                ])
            } else {
                print("Fetched \(report.downloaded) attachment\(report.downloaded == 1 ? "" : "s") (\(ByteCount(report.bytesReceived)) received); \(held) of \(wanted.count) held here.")
                for missing in report.notOnHub {
                    print(Console.highlight("The hub holds no \(missing) that this device may read (not uploaded yet, or outside its read scope)."))
                }
            }
            if let refusal = report.refused.first {
                Console.diagnose(refusal.message)
                throw ExitCode.attachmentRefused
            }
        }
    }
}

/// What `fieldcli sync` says of attachments the hub refused: which file, which limit (exit 87).
enum AttachmentRefusalNote {
    static func report(_ store: ReplicaStore) throws {
        let refused = try store.refusedAttachments()
        guard !refused.isEmpty else { return }
        for (hash, problem, limit) in refused {
            let name = try filename(of: hash, in: store) ?? hash
            let limitText = limit.map { " of \(ByteCount($0)) (\($0) bytes)" } ?? ""
            let raise = " It stays here; ask the hub operator to raise the limit (syncd serve --max-attachment-bytes, --device-media-quota-bytes)."
            let what =
                switch problem {
                case "attachment-too-large": "it is larger than the hub's attachment size limit\(limitText).\(raise)"
                case "quota-exceeded": "it would pass this device's attachment quota at the hub\(limitText).\(raise)"
                case "forbidden":
                    "no document this device may write names it at the hub (the document was rejected there, or this device's write scope changed; see `fieldcli status`). It stays here."
                default: "it failed the hub's checks (\(problem)). It stays here and is offered again at the next sync."
                }
            Console.diagnose("The hub refused the attachment \(name) (\(hash.prefix(12))…): \(what)")
        }
        throw ExitCode.attachmentRefused
    }

    /// The file name a document gives the attachment `hash`.
    static func filename(of hash: String, in store: ReplicaStore) throws -> String? {
        for key in try store.documentsNaming(hash) {
            guard let document = try store.document(key) else { continue }
            if let name = FieldCLI.Attachments.named(in: document).first(where: { $0.sha256 == hash })?.filename {
                return name
            }
        }
        return nil
    }
}

extension StatusReport {
    /// Adds what `fieldcli status` shows of attachments: files to send, files not on this device.
    mutating func addAttachments(_ backlog: AttachmentBacklog) {
        add(
            "media out", "\(backlog.toSend) files to send (\(ByteCount(backlog.bytesToSend)))", key: "attachmentsToSend",
            value: ["count": backlog.toSend, "bytes": backlog.bytesToSend])
        let lacked =
            backlog.lacked == 0
            ? "all held here"
            : "\(backlog.lacked) not on this device (`fieldcli attachments COLLECTION ID` names them and the fetch command)"
        add(
            "media in", lacked, key: "attachmentsLacked",
            value: ["count": backlog.lacked, "knownBytes": backlog.knownBytesLacked])
    }
}
