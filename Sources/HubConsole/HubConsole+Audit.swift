import Foundation
import Hummingbird
import ReplicaStore
import SyncEngine
import SyncHub

extension HubConsole {
    func addAuditRoutes(to group: RouterGroup<HubRequestContext>) {
        let console = self
        group.get("audit") { request, _ in
            try await console.viewing(request) { session in try await console.auditPage(request, session) }
        }
    }

    /// `GET /console/audit[?before=SEQ][&verify=1]`: the audit log, newest first, a page at a
    /// time; with `verify`, the whole chain and its signatures are checked.
    func auditPage(_ request: Request, _ session: OperatorSession) async throws -> Response {
        let query = request.uri.queryParameters
        let store = self.store
        let size = Int64(configuration.pageSize)
        let count = Int64(try await offload { try store.auditEntryCount() })
        let before = min(query.get("before").flatMap(Int64.init) ?? (count + 1), count + 1)
        let after = max(0, before - 1 - size)
        let entries = try await offload { try store.auditEntries(after: after, limit: Int(max(0, before - 1 - after))) }
        let rows: [HTML] = entries.reversed().map { entry in
            let detail = entry.detail.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            return """
                <tr><td>\(entry.sequence)</td><td>\(Self.time(entry.at))</td><td>\(entry.actor)</td><td>\(entry.action.rawValue)</td>\
                <td>\(entry.subject)</td><td><small>\(detail)</small></td></tr>
                """
        }
        let verification: HTML
        if query.get("verify") == "1" {
            let result = try await offload { try store.verifyAuditChain() }
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
        let next = after > 0 ? HTML.link("/console/audit", [("before", "\(after + 1)")]) : nil
        return Self.page("Audit log", session: session, "\(verification)\(table)\(Self.pager(first: "/console/audit", next: next))")
    }
}
