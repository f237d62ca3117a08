import Foundation
import HubConsole
import HubStore
import ReplicaStore
import SyncEngine
import Testing
import TestSupport

/// The observations and warnings pages: filters, paging, CSV export.
@Suite("Console records")
struct ConsoleRecordsTests {
    static let observation = SampleRecords.observation
    static let warning = SampleRecords.warning

    /// Writes observation `id` dated `date` on a device and pushes it to the hub.
    static func observe(_ hub: ConsoleHub, _ id: String, date: String) async throws {
        let body = observation.replacingOccurrences(of: "\"event_date\": \"2026-03-01\"", with: "\"event_date\": \"\(date)\"")
        try await hub.write(WriteIntent(key: DocumentKey(collection: CollectionName("observations")!, id: DocumentID(id)!), body: Data(body.utf8)))
    }

    @Test(arguments: ConsoleBackend.enabled)
    func observationsAreFilteredAndExportedWithoutTheInformant(_ backend: ConsoleBackend) async throws {
        try await ConsoleHub.with(backend) { hub in
            try await Self.observe(hub, "obs-1", date: "2026-03-01")
            try await Self.observe(hub, "obs-2", date: "2026-05-01")
            let browser = try await ConsoleSecurityTests.loggedIn(hub, "viv", role: .viewer)
            let all = try await browser.get("/console/observations")
            #expect(all.status == 200 && all.body.contains("obs-1") && all.body.contains("obs-2"))
            let later = try await browser.get("/console/observations?from=2026-04-01&region=SD-DN")
            #expect(later.body.contains("obs-2") && !later.body.contains(">obs-1<"))
            let elsewhere = try await browser.get("/console/observations?region=SD-KH")
            #expect(elsewhere.status == 200 && !elsewhere.body.contains(">obs-1<") && !elsewhere.body.contains(">obs-2<"))
            let csv = try await browser.get("/console/observations.csv?to=2026-03-31")
            #expect(csv.status == 200 && csv.headers.first(name: "Content-Type")?.hasPrefix("text/csv") == true)
            let lines = csv.body.split(separator: "\r\n")
            #expect(lines.count == 2 && lines.first?.hasPrefix("id,event_date") == true && lines.last?.hasPrefix("obs-1,") == true)
            #expect(!csv.body.contains("Imam"), "the informant reference never leaves the hub")
            let anonymous = ConsoleBrowser(base: hub.url)
            #expect(try await anonymous.get("/console/observations.csv").status == 303, "no export without a session")
        }
    }

    /// The restricted layer: an observation's informant reference is never shown in the console,
    /// neither in a conflict's diff nor in a document's view; the resolution keeps it.
    @Test(arguments: ConsoleBackend.enabled)
    func theInformantReferenceIsNeverShown(_ backend: ConsoleBackend) async throws {
        try await ConsoleHub.with(backend) { hub in
            let folder = try TemporaryReplica()
            defer { folder.remove() }
            let (a, b) = (try folder.create("a"), try folder.create("b"))
            let key = DocumentKey(collection: CollectionName("observations")!, id: DocumentID("obs-9")!)
            let first = try a.write(WriteIntent(key: key, body: Data(Self.observation.utf8)))
            let edited = Self.observation.replacingOccurrences(of: "Imam Y., phone +249 555 0100", with: "Imam Z., phone +249 555 0199")
            let second = try b.write(WriteIntent(key: key, body: Data(edited.utf8)))
            try await hub.push([first, second], from: a.replicaID)
            let browser = try await ConsoleSecurityTests.loggedIn(hub, "rafael", role: .resolver)
            let page = try await browser.get("/console/conflicts/observations/obs-9")
            #expect(page.status == 200 && page.body.contains("source_protection") && page.body.contains("(sealed)"))
            // "555 01", not "555": a random id or token on the page may hold "555" (CI saw one).
            #expect(!page.body.contains("Imam") && !page.body.contains("555 01"))
            let fromB = try #require(try await hub.documents.document(key)?.siblings.firstIndex { $0.dot == second.dot })
            let answer = try await browser.post(
                "/console/conflicts/observations/obs-9/resolve",
                [("csrf", page.csrf ?? ""), ("siblings", ConsoleBrowser.Answer.value(of: "siblings", in: page.body) ?? ""),
                 ("reason", "the second informant is the right one"), ("keep", "merge"), ("field.source_protection", "\(fromB)")])
            #expect(answer.status == 303)
            let resolved = try await browser.get("/console/conflicts/observations/obs-9")
            #expect(resolved.body.contains("Not in conflict") && !resolved.body.contains("Imam"))
            let body = try #require(try await hub.documents.document(key)?.siblings.first?.body)
            #expect(String(decoding: body, as: UTF8.self).contains("Imam Z."), "the resolution keeps the chosen reference")
        }
    }

    @Test(arguments: ConsoleBackend.enabled)
    func warningsShowAcknowledgementsAndLinkWhatTheyCite(_ backend: ConsoleBackend) async throws {
        try await ConsoleHub.with(backend) { hub in
            try await hub.write(WriteIntent(key: DocumentKey(collection: CollectionName("warnings")!, id: DocumentID("w1")!), body: Data(Self.warning.utf8)))
            let browser = try await ConsoleSecurityTests.loggedIn(hub, "viv", role: .viewer)
            let page = try await browser.get("/console/warnings?urgency=immediate")
            #expect(page.body.contains("Imminent attack on Abu Shouk camp") && page.body.contains("1 of 2"))
            #expect(page.body.contains("/console/conflicts/observations/obs-1") && page.body.contains("/console/conflicts/situations/sit-1"))
            let none = try await browser.get("/console/warnings?status=closed")
            #expect(!none.body.contains("Imminent attack"))
        }
    }
}
