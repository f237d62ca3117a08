import Foundation
import HubStore
import Hummingbird
import NIOCore
import SyncEngine
import Records
import SyncHub

/// Observations and warnings: filtered lists read a page of documents at a time, and the
/// filtered observations as CSV, streamed page by page.
extension HubConsole {
    /// Documents read from the store per step of a scan.
    static let scanStep = 50
    /// Steps one page of a filtered list may take before it answers with what it found.
    static let scanSteps = 8

    func addRecordRoutes(to group: RouterGroup<HubRequestContext>) {
        let console = self
        group.get("observations") { request, _ in
            try await console.viewing(request) { session in try await console.observationsPage(request, session) }
        }
        group.get("observations.csv") { request, _ in
            try await console.viewing(request) { _ in try console.observationsCSV(request) }
        }
        group.get("observations.geojson") { request, _ in
            try await console.viewing(request) { _ in try console.observationsGeoJSON(request) }
        }
        group.get("observations/map") { request, _ in
            try await console.viewing(request) { session in try await console.observationsMapPage(request, session) }
        }
        group.get("warnings") { request, _ in
            try await console.viewing(request) { session in try await console.warningsPage(request, session) }
        }
    }

    /// What a filtered scan found: the matching documents with their record, and where the next page starts.
    struct Scan<Record: Sendable>: Sendable {
        var found: [(key: DocumentKey, conflicted: Bool, record: Record)] = []
        var next: String?
    }

    /// Reads `collection` newest first from `after`, a step at a time, keeping the documents whose
    /// current record `accept` returns, until `want` are found or ``scanSteps`` steps were read.
    func scan<Record: Sendable>(
        _ collection: CollectionName, partition: Partition?, after: String?, want: Int,
        accept: @escaping @Sendable (Data) -> Record?
    ) async throws -> Scan<Record> {
        let store = try documentPages()
        var scan = Scan<Record>()
        var cursor = after
        for _ in 0..<Self.scanSteps {
            let page = try await store.documents(in: collection, partition: partition, limit: Self.scanStep, after: cursor)
            for document in page.documents {
                guard let body = document.siblings.first?.body, let record = accept(body) else { continue }
                scan.found.append((document.key, document.siblings.count > 1, record))
            }
            cursor = page.nextCursor
            if cursor == nil || scan.found.count >= want { break }
        }
        scan.next = cursor
        return scan
    }

    /// The filters of the observations page, read from the query.
    struct ObservationFilter: Sendable {
        var region: Partition?
        var from: String?
        var to: String?
        var eventType: String?
        var severity: String?

        init(_ query: Parameters) throws {
            func text(_ name: String) -> String? {
                query.get(name).map { String($0.prefix(64)) }.flatMap { $0.isEmpty ? nil : $0 }
            }
            if let region = text("region") {
                guard let partition = Partition(region) else {
                    throw ConsoleRefusal(.badRequest, "Filter refused", "A region is a code such as SD or SD-DN.")
                }
                self.region = partition
            }
            from = text("from")
            to = text("to")
            eventType = text("type")
            severity = text("severity")
        }

        func accepts(_ observation: Observation) -> Bool {
            let date = observation.eventDate.description
            if let from, date < from { return false }
            if let to, date.prefix(to.count) > to { return false }
            if let eventType, observation.eventType.rawValue != eventType { return false }
            if let severity, observation.severity.rawValue != severity { return false }
            return true
        }

        var query: [(String, String?)] {
            [("region", region?.rawValue), ("from", from), ("to", to), ("type", eventType), ("severity", severity)]
        }
    }

    static func observation(_ body: Data) -> Observation? {
        guard case .observation(let record)? = try? RecordCatalog.read(.observation, body: body) else { return nil }
        return record
    }

    /// `GET /console/observations?region=&from=&to=&type=&severity=&after=`.
    func observationsPage(_ request: Request, _ session: OperatorSession) async throws -> Response {
        let query = request.uri.queryParameters
        let filter = try ObservationFilter(query)
        let scan = try await scan(
            RecordKind.observation.collection, partition: filter.region, after: query.get("after").map { String($0.prefix(300)) },
            want: configuration.pageSize
        ) { body in Self.observation(body).flatMap { filter.accepts($0) ? $0 : nil } }
        let columns = ["event_date", "event_type", "severity", "admin1", "location", "actor1", "fatalities"]
        let rows: [HTML] = scan.found.map { found in
            let fields = ObservationExport.properties(ObservationExport.Entry(id: found.key.id.rawValue, observation: found.record))
            let cells: [HTML] = columns.map { "<td>\(Self.cell(fields[$0]))</td>" }
            let mark: HTML = found.conflicted ? " <em>conflict</em>" : .empty
            return "<tr><td><a href=\"\(Self.documentPath(found.key))\">\(found.key.id.rawValue)</a>\(mark)</td>\(cells)</tr>"
        }
        let heads: [HTML] = columns.map { "<th>\($0)</th>" }
        let table: HTML = rows.isEmpty
            ? "<p>No observation on this page matches.</p>"
            : "<div class=\"scroll\"><table><thead><tr><th>id</th>\(heads)</tr></thead><tbody>\(rows)</tbody></table></div>"
        let first = HTML.link("/console/observations", filter.query)
        let next = scan.next.map { HTML.link("/console/observations", filter.query + [("after", $0)]) }
        let csv = HTML.link("/console/observations.csv", filter.query)
        let geoJSON = HTML.link("/console/observations.geojson", filter.query)
        let map = HTML.link("/console/observations/map", filter.query)
        return Self.page(
            "Observations", session: session,
            """
            \(Self.filterForm("/console/observations", Self.observationFields(filter)))
            <p class="filter"><a href="\(csv)">Export these observations as CSV</a> <a href="\(geoJSON)">as GeoJSON</a> \
            <a href="\(map)">Map them</a></p>
            \(table)\(Self.pager(first: first, next: next))
            """)
    }

    /// `GET /console/observations.csv?…`: the filtered observations as RFC 4180 CSV, streamed a
    /// step at a time (the informant reference is never in it).
    func observationsCSV(_ request: Request) throws -> Response {
        let filter = try ObservationFilter(request.uri.queryParameters)
        let store = try documentPages()
        let body = ResponseBody { writer in
            var cursor: String?
            var first = true
            repeat {
                let page = try await store.documents(
                    in: RecordKind.observation.collection, partition: filter.region, limit: 200, after: cursor)
                let entries = page.documents.compactMap { document -> ObservationExport.Entry? in
                    guard let body = document.siblings.first?.body, let record = Self.observation(body), filter.accepts(record) else { return nil }
                    return ObservationExport.Entry(id: document.key.id.rawValue, observation: record)
                }
                var text = String(decoding: ObservationExport.csv(entries), as: UTF8.self)
                if !first, let header = text.range(of: "\r\n") { text.removeSubrange(text.startIndex..<header.upperBound) }
                first = false
                try await writer.write(ByteBuffer(string: text))
                cursor = page.nextCursor
            } while cursor != nil
            try await writer.finish(nil)
        }
        return Response(
            status: .ok,
            headers: [.contentType: "text/csv; charset=utf-8", .contentDisposition: "attachment; filename=\"observations.csv\""],
            body: body)
    }

    /// `GET /console/warnings?region=&status=&urgency=&after=`: warnings with their
    /// acknowledgements and the situation and observations they cite.
    func warningsPage(_ request: Request, _ session: OperatorSession) async throws -> Response {
        let query = request.uri.queryParameters
        let region = try query.get("region").flatMap { $0.isEmpty ? nil : $0 }.map { text -> Partition in
            guard let partition = Partition(String(text.prefix(64))) else {
                throw ConsoleRefusal(.badRequest, "Filter refused", "A region is a code such as SD or SD-DN.")
            }
            return partition
        }
        let status = query.get("status").flatMap { $0.isEmpty ? nil : String($0.prefix(32)) }
        let urgency = query.get("urgency").flatMap { $0.isEmpty ? nil : String($0.prefix(32)) }
        let scan = try await scan(
            RecordKind.warning.collection, partition: region, after: query.get("after").map { String($0.prefix(300)) },
            want: configuration.pageSize
        ) { body -> EarlyWarning? in
            guard case .warning(let warning)? = try? RecordCatalog.read(.warning, body: body) else { return nil }
            if let status, warning.status.rawValue != status { return nil }
            if let urgency, warning.urgency.rawValue != urgency { return nil }
            return warning
        }
        let rows: [HTML] = scan.found.map { found in Self.warningRow(found.key, found.record, conflicted: found.conflicted) }
        let table: HTML = rows.isEmpty
            ? "<p>No warning on this page matches.</p>"
            : """
                <div class="scroll"><table><thead><tr><th>Warning</th><th>Region</th><th>Status</th><th>Urgency</th>\
                <th>Severity</th><th>Issued</th><th>Acknowledged</th><th>Cites</th></tr></thead><tbody>\(rows)</tbody></table></div>
                """
        let filters: [(String, String?)] = [("region", region?.rawValue), ("status", status), ("urgency", urgency)]
        let next = scan.next.map { HTML.link("/console/warnings", filters + [("after", $0)]) }
        return Self.page(
            "Warnings", session: session,
            """
            \(Self.filterForm("/console/warnings", [
                ("region", "Region", region?.rawValue, "SD-DN"), ("status", "Status", status, "issued"),
                ("urgency", "Urgency", urgency, "immediate"),
            ]))
            \(table)\(Self.pager(first: HTML.link("/console/warnings", filters), next: next))
            """)
    }

    static func warningRow(_ key: DocumentKey, _ warning: EarlyWarning, conflicted: Bool) -> HTML {
        let acknowledged = warning.recipients.filter { $0.acknowledgedAt != nil }.count
        var cited: [HTML] = []
        if let situation = warning.situationID, let id = DocumentID(situation) {
            let path = documentPath(DocumentKey(collection: RecordKind.situation.collection, id: id))
            cited.append("<a href=\"\(path)\">situation</a> ")
        }
        for evidence in warning.evidence.prefix(10) {
            guard let id = DocumentID(evidence) else { continue }
            let path = documentPath(DocumentKey(collection: RecordKind.observation.collection, id: id))
            cited.append("<a href=\"\(path)\">\(evidence)</a> ")
        }
        let mark: HTML = conflicted ? " <em>conflict</em>" : .empty
        return """
            <tr><td><a href="\(documentPath(key))">\(warning.title)</a>\(mark)</td><td>\(warning.area.description)</td>\
            <td>\(warning.status.rawValue)</td><td>\(warning.urgency.rawValue)</td><td>\(warning.severity.rawValue)</td>\
            <td>\(warning.issuedAt ?? "—")</td><td>\(acknowledged) of \(warning.recipients.count)</td><td>\(cited)</td></tr>
            """
    }

    /// A filter form (GET: it changes nothing, so it carries no CSRF token, which would otherwise
    /// end up in addresses and logs).
    static func filterForm(
        _ action: String, _ fields: [(name: String, label: String, value: String?, example: String)],
        hidden: [(String, String?)] = []
    ) -> HTML {
        let inputs: [HTML] = fields.map { field in
            "<label>\(field.label) <input name=\"\(field.name)\" value=\"\(field.value ?? "")\" placeholder=\"\(field.example)\" maxlength=\"64\"></label> "
        }
        let kept: [HTML] = hidden.compactMap { name, value in
            value.map { "<input type=\"hidden\" name=\"\(name)\" value=\"\($0)\">" }
        }
        return "<form method=\"get\" action=\"\(action)\" class=\"filters\">\(kept)\(inputs)<button type=\"submit\">Filter</button></form>"
    }

    static func cell(_ value: JSONValue?) -> String {
        switch value {
        case .string(let text)?: text
        case .number(let number)?: number == number.rounded() && abs(number) < 1e15 ? String(Int64(number)) : String(number)
        case .bool(let flag)?: flag ? "yes" : "no"
        default: "—"
        }
    }
}
