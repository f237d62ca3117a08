import Foundation
import HubStore
import Hummingbird
import SyncEngine
import SyncHub

extension HubConsole {
    func addAuditRoutes(to group: RouterGroup<HubRequestContext>) {
        let console = self
        group.get("audit") { request, _ in
            try await console.viewing(request) { session in try await console.auditPage(request, session) }
        }
    }

    /// `GET /console/audit[?actor=][&action=][&before=SEQ][&verify=1]`: the audit log, newest
    /// first, a page at a time, filtered by actor and action; with `verify`, the whole chain and
    /// its signatures are checked.
    func auditPage(_ request: Request, _ session: OperatorSession) async throws -> Response {
        let query = request.uri.queryParameters
        let size = configuration.pageSize
        let actor = query.get("actor").flatMap { $0.isEmpty ? nil : String($0.prefix(100)) }
        let action = query.get("action").flatMap { $0.isEmpty ? nil : String($0.prefix(100)) }
        let before = query.get("before").flatMap(Int64.init)
        let (entries, nextBefore) = try await auditLog.entries(before: before, actor: actor, action: action, limit: size)
        let rows: [HTML] = entries.map { entry in
            let detail = entry.detail.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            return """
                <tr><td>\(entry.sequence)</td><td>\(Self.time(entry.at))</td><td>\(entry.actor)</td><td>\(entry.action.rawValue)</td>\
                <td>\(entry.subject)</td><td><small>\(detail)</small></td></tr>
                """
        }
        let verification: HTML
        if query.get("verify") == "1" {
            let result = try await auditLog.verify(head: nil)
            switch result.verdict {
            case .intact(let position):
                verification = "<p class=\"ok\" id=\"chain\">Chain intact and signed through entry \(position.sequence).</p>"
            case .broken(let broken):
                verification = "<p class=\"problem\" id=\"chain\">Chain broken: \(broken.description)</p>"
            }
        } else {
            verification = "<p id=\"chain\"><a href=\"/console/audit?verify=1\">Verify the chain and its signatures</a></p>"
        }
        let table: HTML = rows.isEmpty
            ? "<p>The audit log is empty.</p>"
            : """
                <div class="scroll"><table><thead><tr><th>#</th><th>Time</th><th>Who</th><th>What</th><th>Subject</th>\
                <th>Detail</th></tr></thead><tbody>\(rows)</tbody></table></div>
                """
        let filters: [(String, String?)] = [("actor", actor), ("action", action)]
        let next = nextBefore.map { HTML.link("/console/audit", filters + [("before", "\($0)")]) }
        let form = Self.filterForm(
            "/console/audit", [("actor", "Who", actor, "operator:amina"), ("action", "What", action, "document.resolved")])
        return Self.page(
            "Audit log", session: session,
            "\(verification)\(form)\(table)\(Self.pager(first: HTML.link("/console/audit", filters), next: next))")
    }
}
