import Foundation
import HubStore
import Hummingbird
import SyncEngine
import SyncHub

extension HubConsole {
    func addFleetRoutes(to group: RouterGroup<HubRequestContext>) {
        let console = self
        group.get("fleet") { request, _ in
            try await console.viewing(request) { session in try await console.fleetPage(request, session) }
        }
        group.post("fleet/enroll") { request, _ in
            try await console.acting(request, role: .admin) { form, session in try await console.enroll(form, session) }
        }
        group.post("fleet/scopes") { request, _ in
            try await console.acting(request, role: .admin) { form, session in try await console.changeScopes(form, session) }
        }
        group.post("fleet/revoke") { request, _ in
            try await console.acting(request, role: .admin) { form, session in try await console.revoke(form, session) }
        }
    }

    /// `GET /console/fleet[?after=NAME&since=MS]`: devices by name, with state, last seen, lag,
    /// skew, the versions of theirs the hub rejected and quarantined, and scopes; devices not seen
    /// for long stand out; admins enroll and revoke here.
    func fleetPage(_ request: Request, _ session: OperatorSession) async throws -> Response {
        let query = request.uri.queryParameters
        let position = query.get("after").map { (name: String($0.prefix(64)), enrolledAt: query.get("since").flatMap(UInt64.init) ?? 0) }
        let size = configuration.pageSize
        let page = try await fleet(after: position, limit: size)
        let (devices, more) = (page.devices, page.more)
        let now = operators.now()
        let isAdmin = session.role >= .admin
        let rows = devices.map { device in
            fleetRow(device, page.setAside[device.replicaID] ?? SetAsideCounts(), now: now, actions: isAdmin ? session : nil)
        }
        let table: HTML = rows.isEmpty
            ? "<p>No device is enrolled.</p>"
            : """
                <div class="scroll"><table><thead><tr><th>Device</th><th>State</th><th>Last seen</th><th>Behind</th>\
                <th>To push</th><th>Clock skew</th><th>Rejected</th><th>Quarantined</th><th>Reads</th><th>Writes</th><th></th></tr></thead><tbody>\(rows)</tbody></table></div>
                """
        let next = more ? devices.last.map { HTML.link("/console/fleet", [("after", $0.name), ("since", "\($0.enrolledAt)")]) } : nil
        let enroll: HTML = isAdmin
            ? """
            <h2>Enroll a device</h2>
            <form method="post" action="/console/fleet/enroll" class="stack">\(Self.csrfField(session))
            <label>Name <input name="name" required maxlength="64" placeholder="amina-laptop"></label>
            <label>May read <input name="read" required value="*" placeholder="observations/SD-*,situations"></label>
            <label>May write <input name="write" required value="none" placeholder="observations/SD-DN"></label>
            <button type="submit">Give out a one-time code</button>
            </form>
            """ : .empty
        return Self.page(
            "Fleet", session: session,
            "<p class=\"note\">Highlighted: active devices not seen for more than \(Int(configuration.staleAfter.components.seconds / 86_400)) days.</p>\(table)\(Self.pager(first: "/console/fleet", next: next))\(enroll)")
    }

    /// A device's row: stale when active and not seen for longer than ``ConsoleConfiguration/staleAfter``;
    /// with the forms that change its scopes and revoke it when `actions` (an admin's session) is given.
    func fleetRow(_ device: DeviceRecord, _ counts: SetAsideCounts, now: UInt64, actions: OperatorSession?) -> HTML {
        let stale = UInt64(configuration.staleAfter.components.seconds) * 1_000
        let old = device.status == .active && (device.lastSeenAt.map { now > $0 + stale } ?? true)
        let mark: HTML = old ? " class=\"stale\"" : .empty
        let skew = device.lastSkewMilliseconds.map { String(format: "%+.1f s", Double($0) / 1000) } ?? "—"
        var forms: HTML = .empty
        if let session = actions, device.status == .active {
            forms = """
                <form method="post" action="/console/fleet/scopes" class="scopes">\(Self.csrfField(session))\
                <input type="hidden" name="replica" value="\(device.replicaID.hex)">\
                <input name="read" value="\(device.grants.read.text)" aria-label="May read" maxlength="1000">\
                <input name="write" value="\(device.grants.write.text)" aria-label="May write" maxlength="1000">\
                <button type="submit">Change scopes</button></form>\
                <form method="post" action="/console/fleet/revoke">\(Self.csrfField(session))\
                <input type="hidden" name="replica" value="\(device.replicaID.hex)">\
                <button type="submit" class="danger">Revoke</button></form>
                """
        }
        return """
            <tr\(mark)><td>\(device.name)<br><small>\(device.replicaID.short)</small></td><td>\(device.status.rawValue)</td>\
            <td>\(Self.time(device.lastSeenAt))</td><td>\(device.lastLag.map(String.init) ?? "—")</td>\
            <td>\(device.lastPending.map(String.init) ?? "—")</td><td>\(skew)</td>\
            <td>\(Self.count(counts.rejected))</td><td>\(Self.count(counts.quarantined))</td>\
            <td><code>\(device.grants.read.text)</code></td><td><code>\(device.grants.write.text)</code></td><td>\(forms)</td></tr>
            """
    }

    /// Up to `limit` devices by name (then enrollment) after `position`, whether more follow, and
    /// the versions of each the hub set aside: one page read by the backend's index, on either
    /// backend (``DeviceAdministrationStorage/fleetPage(after:limit:)``).
    func fleet(after position: FleetPage.Position?, limit: Int) async throws -> FleetPage {
        try await administration.fleetPage(after: position, limit: limit)
    }

    /// A count in a fleet cell: marked when not zero, so that a device with versions set aside stands out.
    static func count(_ value: Int) -> HTML {
        value == 0 ? "0" : "<strong class=\"count\">\(value)</strong>"
    }

    /// `POST /console/fleet/enroll`: gives out a one-time code, shown once (the hub keeps its hash),
    /// as text and as a QR code a phone can scan.
    func enroll(_ form: ConsoleForm, _ session: OperatorSession) async throws -> Response {
        let name = (form["name"] ?? "").trimmingCharacters(in: .whitespaces)
        guard (1...64).contains(name.count), !name.unicodeScalars.contains(where: CharacterSet.controlCharacters.contains) else {
            throw ConsoleRefusal(.unprocessableContent, "Name refused", "A device name is 1 to 64 characters, such as amina-laptop.")
        }
        guard let read = Scope(text: form["read"] ?? ""), let write = Scope(text: form["write"] ?? "") else {
            throw ConsoleRefusal(
                .unprocessableContent, "Scope refused",
                "Scopes are collection/partition patterns such as observations/SD-* or situations, separated by commas; * for everything, none for nothing.")
        }
        let code = EnrollmentCode.random()
        guard let hash = EnrollmentCode.hash(code) else { throw ConsoleError("An enrollment code could not be made.") }
        let administration = self.administration
        let expiresAt = operators.now() + UInt64(configuration.enrollmentCodeLifetime.components.seconds) * 1_000
        let actor = operatorAuditActor(session.operatorName)
        let added = try await administration.addEnrollmentCode(
            hash: hash, deviceName: name, grants: AccessGrants(read: read, write: write), expiresAt: expiresAt, actor: actor)
        guard added else {
            throw ConsoleRefusal(.conflict, "Name taken", "An active device is already called \(name); choose another name or revoke it first.")
        }
        return Self.page(
            "Enrollment code", session: session,
            """
            <p>The one-time code for <strong>\(name)</strong>, valid until \(Self.time(expiresAt)). It is shown only now.</p>
            <p class="code"><code id="enrollment-code">\(code)</code></p>
            \(QRCode(Array(code.utf8))?.svg(label: "QR code of the enrollment code \(code)") ?? .empty)
            <p>On the device: <code>fieldcli enroll --hub HUB-URL --code \(code)</code></p>
            <p><a href="/console/fleet">Back to the fleet</a></p>
            """)
    }

    /// `POST /console/fleet/scopes`: replaces a device's read and write scopes; audited with the
    /// operator's name. The device's next sync answers under them.
    func changeScopes(_ form: ConsoleForm, _ session: OperatorSession) async throws -> Response {
        guard let replica = form["replica"], let id = ReplicaID(replica) else {
            throw ConsoleRefusal(.badRequest, "No such device", "The form names no device.")
        }
        guard let read = Scope(text: form["read"] ?? ""), let write = Scope(text: form["write"] ?? "") else {
            throw ConsoleRefusal(
                .unprocessableContent, "Scope refused",
                "Scopes are collection/partition patterns such as observations/SD-* or situations, separated by commas; * for everything, none for nothing.")
        }
        let actor = operatorAuditActor(session.operatorName)
        switch try await administration.setGrants(read: read, write: write, ofDevice: id.hex, actor: actor) {
        case .changed:
            return Self.redirect("/console/fleet")
        case .notFound, .ambiguous:
            throw ConsoleRefusal(.notFound, "No such device", "No active device has that replica id; it may be revoked.")
        }
    }

    /// `POST /console/fleet/revoke`: revokes a device by replica id; audited with the operator's name.
    func revoke(_ form: ConsoleForm, _ session: OperatorSession) async throws -> Response {
        guard let replica = form["replica"], let id = ReplicaID(replica) else {
            throw ConsoleRefusal(.badRequest, "No such device", "The form names no device.")
        }
        let actor = operatorAuditActor(session.operatorName)
        switch try await administration.revokeDevice(id.hex, actor: actor) {
        case .revoked:
            return Self.redirect("/console/fleet")
        case .notFound, .ambiguous:
            throw ConsoleRefusal(.notFound, "No such device", "No active device has that replica id; it may be revoked already.")
        }
    }
}
