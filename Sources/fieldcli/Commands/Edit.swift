import ArgumentParser
import Foundation
import ReplicaStore
import SyncEngine
import Records

extension FieldCLI {
    struct Edit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "edit",
            abstract: "Edit a document in your editor, then write it with what you read as its base.",
            discussion: """
                Opens the document's body in $VISUAL, else $EDITOR, else vi (the command may carry \
                arguments), in a private temporary file that is removed afterwards. Save and quit \
                to write the new version; quit without changing anything and nothing is written. \
                The new version is written with the document as you read it as its base (like \
                `put --base`): a version that arrives meanwhile, from a sync, stays beside yours \
                as a conflict instead of being overwritten.

                A document in conflict opens as a resolution: the file to edit starts as the \
                newest version's body and each conflicting version opens beside it, read-only; \
                what you save resolves the conflict, with --reason recorded as by `conflicts \
                resolve`. Sealed fields show as "(sealed)" and keep their value unless you replace it.

                When the edited text is not a valid JSON object or record, or the write is \
                refused, nothing is written and the command says where your text is kept.

                Examples:
                  fieldcli edit reports 0190c6a4-7f2b-7c3e-9a51-2d3e4f5a6b7c
                  EDITOR="nano -w" fieldcli edit reports 0190c6a4-7f2b-7c3e-9a51-2d3e4f5a6b7c
                  fieldcli edit reports 0190c6a4-7f2b-7c3e-9a51-2d3e4f5a6b7c \\
                    --reason "Merged both casualty counts"
                """)

        @OptionGroup var options: ReplicaOptions

        @OptionGroup var target: DocumentArguments

        @Option(help: "Why the conflict is resolved this way; required when the document is in conflict.")
        var reason: String?

        func validate() throws {
            if let reason, reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty || reason.count > 1000 {
                throw ValidationError("--reason must say why, in 1 to 1000 characters.")
            }
        }

        func run() async throws {
            let key = try target.key()
            let store = try options.open()
            let document = try store.documentWithBody(key)
            let draft = try EditDraft(document, reason: reason)
            let session = try draft.open()
            let version: Version?
            do {
                let text = try draft.edit(in: session)
                version = try draft.changedBody(text, session: session).map {
                    try draft.write($0, to: store, keeping: session)
                }
            } catch let ended as ExitCode {
                throw ended  // the edited text was kept or discarded, and the reason said
            } catch {
                session.remove()
                throw error
            }
            session.remove()
            if let version {
                try report(version, draft: draft, store: store)
            } else {
                try report(unchanged: key)
            }
        }

        private func report(unchanged key: DocumentKey) throws {
            if options.json {
                try JSONOutput.print(["collection": key.collection.rawValue, "id": key.id.rawValue, "changed": false])
            } else {
                print("No change to \(key); nothing was written.")
            }
        }

        private func report(_ version: Version, draft: EditDraft, store: ReplicaStore) throws {
            let conflict = try BaseWriteNote.conflictAfterWrite(
                version, base: draft.base, store: store, quiet: options.json)
            let resolved = draft.isResolution ? draft.siblings.map(\.dot).sorted() : []
            if options.json {
                var object: [String: Any] = [
                    "collection": version.key.collection.rawValue, "id": version.key.id.rawValue,
                    "dot": version.dot.description, "changed": true, "conflict": conflict,
                ]
                if draft.isResolution { object["resolved"] = resolved.map(\.description) }
                try JSONOutput.print(object)
            } else if draft.isResolution {
                print(
                    "Resolved \(version.key): version \(Rendering.dot(version.dot)) supersedes \(resolved.map(Rendering.dot).joined(separator: ", "))."
                )
            } else {
                print("Wrote \(version.key): version \(Rendering.dot(version.dot)).")
            }
        }
    }
}

/// One edit of a document: what was read (its base and siblings), the text opened in the
/// editor, and how the saved text becomes the new body.
struct EditDraft {
    let key: DocumentKey
    /// The document's context when it was read: the new version's base.
    let base: VersionVector
    let siblings: [Version]
    let reason: String?
    /// The sibling whose body the edited file starts from (nil: a conflict of deletions only).
    let seed: Version?
    /// The text the edited file starts with.
    let seedText: String

    var isResolution: Bool { siblings.count > 1 }

    init(_ document: StoredDocument, reason: String?) throws {
        key = document.key
        base = document.state.context
        siblings = document.siblings
        self.reason = reason
        if document.isConflicted {
            guard reason != nil else {
                throw ValidationError(
                    "\(document.key) is in conflict (\(document.siblings.count) versions), so editing it resolves the conflict: say why with --reason TEXT."
                )
            }
        } else if document.isDeleted {
            throw StoreError(
                .documentNotFound,
                "\(document.key) is deleted; to bring it back write a new version with `fieldcli put \(document.key.collection) \(document.key.id) --base CONTEXT`."
            )
        }
        seed = document.siblings.filter { !$0.isTombstone }.max { $0.timestamp < $1.timestamp }
        seedText = Self.editable(seed?.body, in: document.key.collection) ?? "{}\n"
    }

    /// `body` as the editor shows it: pretty-printed, sorted keys, sealed fields as "(sealed)";
    /// nil for a tombstone.
    static func editable(_ body: Data?, in collection: CollectionName) -> String? {
        guard let shown = SealedFields.redacted(body, in: collection) else { return nil }
        guard let object = try? JSONSerialization.jsonObject(with: shown),
            let pretty = try? JSONSerialization.data(
                withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        else { return String(decoding: shown, as: UTF8.self) + "\n" }
        return String(decoding: pretty, as: UTF8.self) + "\n"
    }

    /// The file name stem for this document: `COLLECTION-ID`.
    private var stem: String { "\(key.collection)-\(key.id)" }

    /// Makes the private folder with the file to edit and, for a conflict, each version beside it.
    func open() throws -> EditorSession {
        var session = try EditorSession(
            name: isResolution ? "\(stem).resolution.json" : "\(stem).json", text: seedText)
        do {
            guard isResolution else { return session }
            for (index, sibling) in siblings.enumerated() {
                let name =
                    "\(stem).version-\(index + 1)-\(sibling.dot.replica.short)-\(sibling.dot.counter)\(sibling.isTombstone ? "-deleted" : "").json"
                try session.addReference(name: name, text: Self.editable(sibling.body, in: key.collection) ?? "null\n")
            }
            return session
        } catch {
            session.remove()
            throw error
        }
    }

    /// Runs the editor on the session's files and returns the edited file's bytes.
    func edit(in session: EditorSession) throws -> Data {
        let command = Editor.command()
        let status = try Editor.run(command, files: [session.edited.path] + session.references.map(\.path))
        guard status == 0 else {
            try keepOrDiscard(
                session, because: "The editor `\(command.prefix(80))` exited with status \(status)",
                exitCode: .unexpected)
        }
        guard let text = try session.readEdited(maximumSize: JSONBody.defaultMaximumSize), !text.isEmpty else {
            throw InvalidInput("The edited file was emptied or removed; nothing was written.")
        }
        return text
    }

    /// The new body, or nil when the text means the same JSON as it started with. Sealed fields
    /// left as "(sealed)" get their value back.
    func changedBody(_ text: Data, session: EditorSession) throws -> Data? {
        if text == Data(seedText.utf8) { return nil }
        do {
            try JSONBody.validate(text)
        } catch {
            let sentence = Self.sentence(error)
            let edited =
                sentence.hasPrefix("The body ") ? "The edited text " + sentence.dropFirst("The body ".count) : sentence
            try keepOrDiscard(session, because: edited, exitCode: .invalidInput)
        }
        let edited = try JSONValue(parsing: text)
        if let start = try? JSONValue(parsing: Data(seedText.utf8)), start == edited { return nil }
        guard let original = try? seed?.body.map(JSONValue.init(parsing:)) else { return text }
        let restored = SealedRestore.restoring(edited, from: original, in: key.collection)
        return restored == edited ? text : restored.canonicalData
    }

    /// Writes `body` with the base read (a resolution when the document was in conflict); on a
    /// refusal keeps the edited text and says where.
    func write(_ body: Data, to store: ReplicaStore, keeping session: EditorSession) throws -> Version {
        do {
            // A new informant reference typed in clear is sealed before the record is signed.
            let body = try InformantReferenceSealing.sealed(body, key: key, store: store)
            let dots = siblings.map(\.dot)
            let final =
                try isResolution
                ? JSONBody.annotatingResolution(body, reason: reason ?? "", siblings: dots) : body
            return try store.write(WriteIntent(key: key, body: final, isResolution: isResolution, base: base))
        } catch {
            let advised = BaseOption.advising(error, key: key)
            try keepOrDiscard(
                session, because: Self.sentence(advised), exitCode: Diagnostic(advised)?.exitCode ?? .unexpected)
        }
    }

    /// Says why nothing was written and where the edited text is kept, then ends the command.
    private func keepOrDiscard(_ session: EditorSession, because reason: String, exitCode: ExitCode) throws -> Never {
        let changed =
            (try? session.readEdited(maximumSize: JSONBody.defaultMaximumSize)).flatMap { $0 } != Data(seedText.utf8)
        var message = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        if message.hasSuffix(".") { message.removeLast() }
        if changed {
            Console.diagnose("\(message); nothing was written, and your text is kept in \(session.keepEdited()).")
        } else {
            session.remove()
            Console.diagnose("\(message); nothing was written.")
        }
        throw exitCode
    }

    private static func sentence(_ error: any Error) -> String {
        Diagnostic(error)?.message ?? "\(error)"
    }
}

/// Sealed fields the editor showed as "(sealed)": left so, they keep the stored value.
enum SealedRestore {
    static func restoring(_ edited: JSONValue, from original: JSONValue, in collection: CollectionName) -> JSONValue {
        var result = edited
        for path in SealedFields.paths(in: collection) {
            result = restoring(path.split(separator: ".").map(String.init)[...], in: result, from: original)
        }
        return result
    }

    private static func restoring(_ path: ArraySlice<String>, in value: JSONValue, from original: JSONValue)
        -> JSONValue
    {
        guard let name = path.first, case .object(var fields) = value, let inner = fields[name],
            let kept = original.objectValue?[name]
        else { return value }
        if path.count == 1 {
            if inner == .string(SealedFields.placeholder) { fields[name] = kept }
        } else {
            fields[name] = restoring(path.dropFirst(), in: inner, from: kept)
        }
        return .object(fields)
    }
}
