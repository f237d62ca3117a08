import Foundation
import HubStore
import Hummingbird
import SyncHub
import SyncEngine

extension HubConsole {
    func addConflictRoutes(to group: RouterGroup<HubRequestContext>) {
        let console = self
        group.get("conflicts") { request, _ in
            try await console.viewing(request) { session in try await console.conflictList(request, session) }
        }
        group.get("conflicts/:collection/:id") { request, context in
            let key = Self.documentKey(context.parameters.get("collection"), context.parameters.get("id"))
            return try await console.viewing(request) { session in try await console.conflictPage(key, session) }
        }
        group.post("conflicts/:collection/:id/resolve") { request, context in
            let key = Self.documentKey(context.parameters.get("collection"), context.parameters.get("id"))
            return try await console.acting(request, role: .resolver) { form, session in
                try await console.resolve(key, form: form, session: session)
            }
        }
    }

    static func documentKey(_ collection: String?, _ id: String?) -> DocumentKey? {
        guard let collection = collection.flatMap(CollectionName.init), let id = id.flatMap(DocumentID.init) else { return nil }
        return DocumentKey(collection: collection, id: id)
    }

    static func documentPath(_ key: DocumentKey) -> String {
        "/console/conflicts/\(HTML.percentEncoded(key.collection.rawValue))/\(HTML.percentEncoded(key.id.rawValue))"
    }

    /// `GET /console/conflicts[?collection=C][&after=CURSOR]`: documents in conflict, newest first.
    func conflictList(_ request: Request, _ session: OperatorSession) async throws -> Response {
        let query = request.uri.queryParameters
        let collectionText = query.get("collection")
        let collection = collectionText.flatMap(CollectionName.init)
        if collectionText != nil, collection == nil {
            throw ConsoleRefusal(.badRequest, "No such collection", "A collection name is lowercase letters, digits and dashes.")
        }
        let region = try query.get("region").flatMap { $0.isEmpty ? nil : $0 }.map { text -> Partition in
            guard let partition = Partition(String(text.prefix(64))) else {
                throw ConsoleRefusal(.badRequest, "Filter refused", "A region is a code such as SD or SD-DN.")
            }
            return partition
        }
        let after = query.get("after").map { String($0.prefix(300)) }
        let store = try documentPages()
        let page = try await store.conflicts(in: collection, partition: region, limit: configuration.pageSize, after: after)
        let collections = try await store.conflictedCollections()
        let filter: [HTML] = [Self.filterLink("All", nil, current: collection)]
            + collections.map { Self.filterLink($0.rawValue, $0, current: collection) }
        let rows: [HTML] = page.documents.map { document in
            let newest = document.siblings.map(\.timestamp.wallMilliseconds).max()
            return """
                <tr><td>\(document.key.collection.rawValue)</td>\
                <td><a href="\(Self.documentPath(document.key))">\(document.key.id.rawValue)</a></td>\
                <td>\(document.partition.rawValue)</td><td>\(document.siblings.count)</td><td>\(Self.time(newest))</td></tr>
                """
        }
        let table: HTML = rows.isEmpty
            ? "<p>No document is in conflict\(collection == nil ? "" : " in this collection").</p>"
            : """
                <div class="scroll"><table><thead><tr><th>Collection</th><th>Document</th><th>Partition</th>\
                <th>Versions</th><th>Newest</th></tr></thead><tbody>\(rows)</tbody></table></div>
                """
        let filters: [(String, String?)] = [("collection", collection?.rawValue), ("region", region?.rawValue)]
        let first = HTML.link("/console/conflicts", filters)
        let next = page.nextCursor.map { HTML.link("/console/conflicts", filters + [("after", $0)]) }
        let regionForm = Self.filterForm(
            "/console/conflicts", [("region", "Region (partition)", region?.rawValue, "SD-DN")],
            hidden: [("collection", collection?.rawValue)])
        return Self.page(
            "Conflicts", session: session,
            "<p class=\"filter\">Collection: \(filter)</p>\(regionForm)\(table)\(Self.pager(first: first, next: next))")
    }

    static func filterLink(_ label: String, _ collection: CollectionName?, current: CollectionName?) -> HTML {
        let link = HTML.link("/console/conflicts", [("collection", collection?.rawValue)])
        return collection == current
            ? "<strong>\(label)</strong> " : "<a href=\"\(link)\">\(label)</a> "
    }

    /// `GET /console/conflicts/C/ID`: the siblings side by side with a field-by-field diff, and
    /// the resolution form for resolvers.
    func conflictPage(_ key: DocumentKey?, _ session: OperatorSession) async throws -> Response {
        guard let key else { throw Self.noSuchDocument }
        let store = try documentPages()
        guard let document = try await store.document(key) else { throw Self.noSuchDocument }
        let title = "\(key.collection.rawValue) / \(key.id.rawValue)"
        let history = try await store.history(of: key, newest: Self.historyLimit)
        let origins = Set(document.siblings.map(\.dot.replica)).union(history.map(\.version.dot.replica))
        let authors = try await store.authorNames(of: origins)
        let historySection = Self.historyTable(history, authors: authors)
        guard document.siblings.count > 1 else {
            let current = document.siblings.first
            let note: HTML = current.map { version in
                let shown = shownBody(version.body, key: key, session: session)
                let body = shown.map { String(decoding: $0, as: UTF8.self) } ?? "(deleted)"
                return "<p>Not in conflict. Current version \(version.dot.description), \(Self.time(version.timestamp.wallMilliseconds)):</p><pre>\(body)</pre>"
            } ?? "<p>Not in conflict.</p>"
            return Self.page(title, session: session, "\(note)\(historySection)")
        }
        let bodies = document.siblings.map(\.body)
        guard let diff = ConflictDiff(bodies: bodies, collection: key.collection, shown: bodies.map { shownBody($0, key: key, session: session) })
        else {
            throw ConsoleRefusal(
                .unprocessableContent, "Cannot show", "A version of this document is not a JSON object; resolve it with fieldcli on the hub.")
        }
        let canResolve = session.role >= .resolver
        let table = Self.diffTable(document, diff: diff, authors: authors, choosing: canResolve)
        let form: HTML
        if canResolve {
            let keepButtons: [HTML] = document.siblings.indices.map { index in
                "<button type=\"submit\" name=\"keep\" value=\"\(index)\">Keep version \(index + 1) whole</button> "
            }
            form = """
                <form method="post" action="\(Self.documentPath(key))/resolve" class="stack">\(Self.csrfField(session))
                <input type="hidden" name="siblings" value="\(Self.siblingList(document))">
                \(table)
                <label>Reason (required, kept in the record and the audit log)
                <textarea name="reason" required maxlength="500" rows="3"></textarea></label>
                <p class="actions"><button type="submit" name="keep" value="merge">Merge the chosen fields</button> \(keepButtons)</p>
                </form>
                """
        } else {
            form = "\(table)<p class=\"note\">Your role (\(session.role.rawValue)) may look but not resolve.</p>"
        }
        return Self.page(
            title, session: session,
            "<p>Partition \(document.partition.rawValue); \(document.siblings.count) concurrent versions.</p>\(form)\(historySection)")
    }

    /// Versions of a document its page lists at most (the newest).
    static let historyLimit = 50

    /// The document's history, oldest first: each version's dot, author, time and whether it
    /// deletes or was set aside (never a body: the diff shows the current ones, sealed fields
    /// closed).
    static func historyTable(_ history: [StoredVersion], authors: [ReplicaID: String]) -> HTML {
        guard !history.isEmpty else { return .empty }
        let rows: [HTML] = history.map { stored in
            let version = stored.version
            let author = authors[version.dot.replica] ?? "unknown replica \(version.dot.replica.short)"
            var notes: [String] = []
            if version.isTombstone { notes.append("deleted") }
            if let reason = stored.setAsideReason { notes.append("set aside: \(reason.code.rawValue)") }
            return """
                <tr class="version"><td>\(version.dot.description)</td><td>\(author)</td>\
                <td>\(time(version.timestamp.wallMilliseconds))</td><td>\(notes.joined(separator: ", "))</td></tr>
                """
        }
        return """
            <h2>History</h2><p class="note">The newest \(historyLimit) versions at most, oldest first.</p>\
            <div class="scroll"><table><thead><tr><th>Version</th><th>Author</th><th>Time</th><th></th></tr></thead>\
            <tbody>\(rows)</tbody></table></div>
            """
    }

    static func siblingList(_ document: StoredDocument) -> String {
        document.siblings.map(\.dot.description).joined(separator: ",")
    }

    /// The side-by-side table: a column per sibling (author device, time, dot), a row per field,
    /// fields that differ marked, with a choice per differing field when `choosing`.
    static func diffTable(_ document: StoredDocument, diff: ConflictDiff, authors: [ReplicaID: String], choosing: Bool) -> HTML {
        let heads: [HTML] = document.siblings.enumerated().map { index, version in
            let author = authors[version.dot.replica] ?? "unknown replica \(version.dot.replica.short)"
            let deleted: HTML = version.isTombstone ? " <em>deleted</em>" : .empty
            return """
                <th>Version \(index + 1)\(deleted)<br><small>by \(author)<br>\(time(version.timestamp.wallMilliseconds))<br>\(version.dot.description)</small></th>
                """
        }
        let rows: [HTML] = diff.fields.map { field in
            let cells: [HTML] = field.values.enumerated().map { index, value in
                let shown = value ?? "—"
                guard choosing, field.differs else { return "<td><code>\(shown)</code></td>" }
                let checked: HTML = index == (field.values.firstIndex { $0 != nil } ?? 0) ? " checked" : .empty
                return """
                    <td><label><input type="radio" name="field.\(field.name)" value="\(index)"\(checked)> <code>\(shown)</code></label></td>
                    """
            }
            let mark: HTML = field.differs ? " class=\"differs\"" : .empty
            return "<tr\(mark)><th scope=\"row\">\(field.name)</th>\(cells)</tr>"
        }
        return "<div class=\"scroll\"><table class=\"diff\"><thead><tr><th>Field</th>\(heads)</tr></thead><tbody>\(rows)</tbody></table></div>"
    }

    /// `POST /console/conflicts/C/ID/resolve`: writes the operator's resolution as a version of
    /// the hub's, signed and audited, over exactly the siblings the operator saw.
    func resolve(_ key: DocumentKey?, form: ConsoleForm, session: OperatorSession) async throws -> Response {
        guard let key else { throw Self.noSuchDocument }
        let reason = (form["reason"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...500).contains(reason.count),
            reason.unicodeScalars.allSatisfy({ $0 == "\n" || $0 == "\r" || !CharacterSet.controlCharacters.contains($0) })
        else {
            throw ConsoleRefusal(.unprocessableContent, "Reason needed", "Say in 1 to 500 characters why you resolve it this way; go back and add it.")
        }
        let store = try documentPages()
        guard let document = try await store.document(key) else { throw Self.noSuchDocument }
        guard document.siblings.count > 1, form["siblings"] == Self.siblingList(document) else {
            throw ConsoleRefusal(
                .conflict, "Document changed", "The document changed since you opened it; open it again and resolve what it holds now.")
        }
        let (body, how) = try Self.resolutionBody(document, form: form, reason: reason, operator: session.operatorName)
        let dots = document.siblings.map(\.dot)
        do {
            _ = try await store.resolveAsOperator(
                key, body: body, expectedSiblings: dots, operator: session.operatorName, reason: reason, how: how)
        } catch let error as SyncEngineError where error.code == .conflict {
            throw ConsoleRefusal(.conflict, "Document changed", "The document changed meanwhile; open it again.")
        } catch let error as SyncEngineError {
            throw ConsoleRefusal(.unprocessableContent, "Resolution refused", error.message)
        }
        return Self.redirect(Self.documentPath(key))
    }

    /// The resolution's body (nil: a deletion) and how it was made, from the form's choice.
    static func resolutionBody(
        _ document: StoredDocument, form: ConsoleForm, reason: String, operator name: String
    ) throws -> (body: Data?, how: String) {
        let dots = document.siblings.map(\.dot)
        let note = "resolved by operator \(name): \(reason)"
        let keep = form["keep"] ?? ""
        if let index = Int(keep), document.siblings.indices.contains(index) {
            let kept = document.siblings[index]
            guard let body = kept.body else { return (nil, "kept the deletion \(kept.dot)") }
            return (try JSONBody.annotatingResolution(body, reason: note, siblings: dots), "kept version \(kept.dot)")
        }
        guard keep == "merge", let diff = ConflictDiff(bodies: document.siblings.map(\.body), collection: document.key.collection) else {
            throw ConsoleRefusal(.badRequest, "Choice missing", "Choose a version to keep, or merge the chosen fields.")
        }
        var choices: [String: Int] = [:]
        for (field, value) in form.fields(prefixed: "field.") {
            guard let index = Int(value), document.siblings.indices.contains(index) else {
                throw ConsoleRefusal(.badRequest, "Choice refused", "A field's choice names no version of this document.")
            }
            choices[field] = index
        }
        guard let merged = diff.merged(choices: choices) else {
            throw ConsoleRefusal(.unprocessableContent, "Merge refused", "A chosen field comes from a deleted version; choose another.")
        }
        return (try JSONBody.annotatingResolution(merged, reason: note, siblings: dots), "merged field by field")
    }

    static let noSuchDocument = ConsoleRefusal(.notFound, "No such document", "The hub holds no document of that name.")
}
