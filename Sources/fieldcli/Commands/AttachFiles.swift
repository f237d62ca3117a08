import ArgumentParser
import Foundation
import ReplicaStore
import SyncEngine
import Records

/// Storing files in the replica and naming them in a document's body, shared by `fieldcli attach`
/// and `fieldcli record observation --attach`.
enum AttachFiles {
    /// Stores the file at `path` in the replica, chunked and content-addressed, and returns the
    /// reference a body names it with: SHA-256, name, type, size, as the evidentiary original.
    static func store(_ path: String, in store: ReplicaStore) throws -> JSONValue {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw InvalidInput("Cannot read the attachment \(path); check the path and its permissions.")
        }
        defer { try? handle.close() }
        let manifest: AttachmentManifest
        do {
            manifest = try store.storeAttachment { try handle.read(upToCount: 1 << 20) }
        } catch let error as StoreError {
            throw error
        } catch {
            throw InvalidInput("Cannot read the attachment \(path); check that it is a readable file.")
        }
        var reference: [String: JSONValue] = [
            "sha256": .string(manifest.sha256), "filename": .string(URL(fileURLWithPath: path).lastPathComponent),
            "size_bytes": .number(Double(manifest.size)), "role": .string(AttachmentRole.evidentiaryOriginal.rawValue),
        ]
        if let mime = mediaType(of: path) { reference["mime"] = .string(mime) }
        return .object(reference)
    }

    /// The media type a file's extension implies, for the common kinds of evidence.
    static func mediaType(of path: String) -> String? {
        let types = [
            "jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif", "heic": "image/heic",
            "webp": "image/webp", "tif": "image/tiff", "tiff": "image/tiff", "mp4": "video/mp4", "mov": "video/quicktime",
            "3gp": "video/3gpp", "webm": "video/webm", "mp3": "audio/mpeg", "m4a": "audio/mp4", "ogg": "audio/ogg",
            "opus": "audio/opus", "wav": "audio/wav", "amr": "audio/amr", "pdf": "application/pdf", "txt": "text/plain",
        ]
        return types[URL(fileURLWithPath: path).pathExtension.lowercased()]
    }

    /// `body` with `references` added to its `attachments` array (a hash already named is kept once).
    static func adding(_ references: [JSONValue], to body: Data) throws -> Data {
        guard var fields = try JSONValue(parsing: body).objectValue else {
            throw InvalidInput("The document's body is not a JSON object; nothing was attached.")
        }
        var list = fields["attachments"]?.arrayValue ?? []
        let named = Set(list.compactMap { $0.objectValue?["sha256"]?.stringValue })
        list += references.filter { reference in
            guard let hash = reference.objectValue?["sha256"]?.stringValue else { return false }
            return !named.contains(hash)
        }
        fields["attachments"] = .array(list)
        return JSONValue.object(fields).canonicalData
    }
}

extension FieldCLI {
    /// `fieldcli attach COLLECTION ID FILE...`: stores files and names them in a new version.
    struct Attach: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "attach",
            abstract: "Attach files to a document: store them here and name them in a new version of it.",
            discussion: """
                Each file is stored in the replica in chunks of 256 KiB, by its SHA-256, and named \
                in the document's `attachments` (name, type, size, SHA-256), so your signature on \
                the new version covers it. The next `fieldcli sync` sends the files after the \
                documents; a cut link resumes from the last whole chunk. Prints the document id.

                Example:
                  fieldcli attach observations 0190c6a4-7f2b-7c3e-9a51-2d3e4f5a6b7c photo.jpg statement.pdf
                """)

        @OptionGroup var options: ReplicaOptions
        @OptionGroup var document: DocumentArguments

        @Argument(help: ArgumentHelp("The files to attach.", valueName: "file"))
        var files: [String]

        func validate() throws {
            if files.isEmpty { throw ValidationError("Give at least one file to attach.") }
            if files.count > 50 { throw ValidationError("A document names at most 50 attachments.") }
        }

        func run() async throws {
            let key = try document.key()
            let store = try options.open()
            let current = try store.documentWithBody(key)
            guard current.siblings.count == 1, let sibling = current.siblings.first, let body = sibling.body else {
                throw SyncEngineError(
                    .conflict,
                    "\(key) is in conflict or deleted; resolve it first (`fieldcli conflicts show \(key.collection) \(key.id)`).")
            }
            let references = try files.map { try AttachFiles.store($0, in: store) }
            let newBody = try AttachFiles.adding(references, to: body)
            let check = try RecordCatalog.validate(collection: key.collection, body: newBody)
            let version = try store.write(
                WriteIntent(key: key, partition: check.partition ?? current.partition, body: newBody, base: current.state.context))
            if options.json {
                try JSONOutput.print([
                    "id": key.id.rawValue, "collection": key.collection.rawValue, "dot": version.dot.description,
                    "attachments": references.compactMap { $0.objectValue?["sha256"]?.stringValue },
                ])
            } else {
                print(key.id)
            }
        }
    }
}
