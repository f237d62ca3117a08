import Foundation
import ReplicaStore
import SyncEngine
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// End-to-end tests that start the real `syncd` and `fieldcli` executables on 127.0.0.1, and kill
/// them at bad moments. Serialized: each starts several processes on a shared two-core machine.
@Suite("Real syncd and fieldcli processes on loopback", .serialized, .timeLimit(.minutes(10)))
struct ProcessSyncTests {
    /// How many documents the fault tests seed: enough for several pull pages (2,000 versions each
    /// by default), so that a pull can be cut between pages.
    static let seededDocuments = 20_000

    @Test("Concurrent offline edits show the same two siblings on the hub and both replicas; one resolution reaches all")
    func concurrentEditsConvergeThroughTheHub() async throws {
        try await withProcessFixture { fixture in
            let reports = try collectionName("reports")
            let hubPath = fixture.path("hub.sqlite")
            let a = fixture.path("a.sqlite")
            let b = fixture.path("b.sqlite")
            let hub = try await fixture.startHub(database: hubPath)
            try await fixture.initReplica(a)
            try await fixture.initReplica(b)

            // Both sync once while everything is empty.
            for replica in [a, b] {
                let summary = try await fixture.syncSucceeding(replica, hub: hub.url)
                #expect(summary.versionsPushed == 0)
                #expect(summary.versionsPulled == 0)
                #expect(summary.roundTrips >= 1)
            }

            // A creates the document and syncs; B syncs and gets it.
            let id = try await fixture.put(a, "reports", body: #"{"title":"Bridge out","status":"new"}"#)
            let key = DocumentKey(collection: reports, id: try #require(DocumentID(id)))
            #expect(try await fixture.syncSucceeding(a, hub: hub.url).versionsPushed == 1)
            #expect(try await fixture.syncSucceeding(b, hub: hub.url).versionsPulled == 1)
            let original = try #require(try TemporaryReplica.open(at: b).document(key)?.state.siblings.first)

            // Offline, both edit it.
            let bodyA = #"{"title":"Bridge out","status":"repaired"}"#
            let bodyB = #"{"title":"Bridge out","status":"still closed"}"#
            #expect(try await fixture.put(a, "reports", id: id, body: bodyA) == id)
            #expect(try await fixture.put(b, "reports", id: id, body: bodyB) == id)

            // A, B, then A again sync.
            let first = try await fixture.syncSucceeding(a, hub: hub.url)
            #expect(first.versionsPushed == 1)
            #expect(first.versionsPulled == 0)
            let second = try await fixture.syncSucceeding(b, hub: hub.url)
            #expect(second.versionsPushed == 1)
            #expect(second.versionsPulled == 1)
            let third = try await fixture.syncSucceeding(a, hub: hub.url)
            #expect(third.versionsPushed == 0)
            #expect(third.versionsPulled == 1)

            // The hub and both replicas show the same two siblings: A's and B's edits.
            var conflictDots: [Set<Dot>] = []
            for (name, path) in [("hub", hubPath), ("A", a), ("B", b)] {
                let document = try #require(try TemporaryReplica.open(at: path).document(key), "\(name) lacks \(key)")
                #expect(Set(document.siblings.map(bodyText)) == [bodyA, bodyB], "siblings on \(name)")
                #expect(document.state.context.contains(original), "\(name) has seen the original")
                conflictDots.append(Set(document.state.siblings))
            }
            #expect(conflictDots.allSatisfy { $0 == conflictDots[0] && $0.count == 2 })
            let listed = try await fixture.fieldcli(b, ["conflicts", "list"], ["--json"])
            #expect(listed.exitStatus == 0, "\(listed)")
            #expect(listed.stdout.contains(id))
            let plainEdit = try await fixture.fieldcli(b, ["put", "reports", id], ["--body", #"{"title":"x"}"#])
            #expect(plainEdit.exitStatus == 68, "a plain edit of a conflicted document is refused: \(plainEdit)")

            // B resolves with a new body and a reason; B, then A sync.
            let resolvedBody = #"{"title":"Bridge out","status":"repaired on one lane"}"#
            let reason = "Both observers were right about one lane each"
            let resolve = try await fixture.fieldcli(
                b, ["conflicts", "resolve", "reports", id], ["--body", resolvedBody, "--reason", reason])
            #expect(resolve.exitStatus == 0, "\(resolve)")
            let pushResolution = try await fixture.syncSucceeding(b, hub: hub.url)
            #expect(pushResolution.versionsPushed == 1)
            let pullResolution = try await fixture.syncSucceeding(a, hub: hub.url)
            #expect(pullResolution.versionsPulled == 1)

            // Every replica shows the resolution: one sibling, the same dot, the resolved body
            // with the reason and the two resolved siblings recorded in its `_resolution` field.
            var resolutionDots: Set<Dot> = []
            for (name, path) in [("hub", hubPath), ("A", a), ("B", b)] {
                let document = try #require(try TemporaryReplica.open(at: path).document(key), "\(name) lacks \(key)")
                #expect(document.siblings.count == 1, "one sibling on \(name)")
                let body = try #require(document.siblings.first?.body, "the resolution on \(name) is not a tombstone")
                let object = try #require(try JSONSerialization.jsonObject(with: body) as? [String: Any])
                #expect(object["title"] as? String == "Bridge out", "resolution on \(name)")
                #expect(object["status"] as? String == "repaired on one lane", "resolution on \(name)")
                let note = try #require(object[JSONBody.resolutionField] as? [String: Any], "resolution note on \(name)")
                #expect(note["reason"] as? String == reason)
                #expect(note["siblings"] as? [String] == conflictDots[0].sorted().map(\.description))
                #expect(conflictDots[0].allSatisfy(document.state.context.contains), "\(name): the resolution covers both edits")
                resolutionDots.formUnion(document.state.siblings)
            }
            #expect(resolutionDots.count == 1)

            // The hub's history holds exactly four versions: the original, A's edit, B's edit and
            // B's resolution.
            let history = try TemporaryReplica.open(at: hubPath).history(of: key)
            #expect(history.count == 4)
            #expect(Set(history.map(\.version.dot)) == Set([original]).union(conflictDots[0]).union(resolutionDots))

            // The hub stops cleanly on SIGTERM; its file is a hub's database, which fieldcli (a
            // device's tool) refuses and leaves as it was (issue 12: a replica file has a role).
            #expect(try await fixture.stop(hub) == .exited(0))
            let fromHub = try await fixture.fieldcli(hubPath, ["get", "reports", id], ["--json"])
            #expect(fromHub.exitStatus == 70, "\(fromHub)")
            #expect(fromHub.stderr.contains("is a hub's database"), "\(fromHub)")
            let reopened = try TemporaryReplica.open(at: hubPath)
            #expect(reopened.role == .hub)
            #expect(try reopened.history(of: key).count == 4)
            #expect(try reopened.integrityProblems().isEmpty)
        }
    }

    @Test("fieldcli sync killed with SIGKILL in the middle of a large pull completes on the next run: none lost, none duplicated")
    func syncKilledMidPullResumes() async throws {
        try await withProcessFixture { fixture in
            try await fixture.withScratchFolder { scratch in
                let reports = try collectionName("reports")
                let source = scratch.appendingPathComponent("source.sqlite").path
                let total = Self.seededDocuments
                _ = try seedReplica(at: source, count: total, collection: reports)
                let hub = try await fixture.startHub(database: fixture.path("hub.sqlite"))
                #expect(try await fixture.syncSucceeding(source, hub: hub.url).versionsPushed == total)

                let fresh = fixture.path("fresh.sqlite")
                try await fixture.initReplica(fresh)
                try await fixture.enroll(fresh, at: hub)
                let client = try fixture.start("fieldcli", fixture.syncArguments(fresh, hub: hub.url))
                let seen = try await waitForPartialTransfer(into: fresh, by: client, total: total)
                client.send(signal: SIGKILL)
                let killed = try await client.waitForExit(timeout: .seconds(10))
                #expect(killed == .signaled(SIGKILL), "the client was still pulling when killed")
                let partial = try TemporaryReplica.open(at: fresh).status().versions
                #expect(seen > 0)
                #expect(partial > 0 && partial < total, "pulled \(partial) of \(total) before the kill")

                let resumed = try await fixture.syncSucceeding(fresh, hub: hub.url)
                // Each page was applied with its checkpoint: the second run pulls exactly the rest.
                #expect(resumed.versionsPulled == total - partial, "resumed from the checkpoint of the last applied page")

                let store = try TemporaryReplica.open(at: fresh)
                #expect(try store.integrityProblems().isEmpty)
                let status = try store.status()
                #expect(status.versions == total)
                #expect(status.documentsPerCollection[reports] == total)
                #expect(status.conflicts == 0)
                let expected = try ReplicaContent(path: source, collections: [reports])
                #expect(try ReplicaContent(path: fresh, collections: [reports]) == expected)
                #expect(try await fixture.stop(hub) == .exited(0))
            }
        }
    }

    @Test("The hub killed with SIGKILL and restarted on its file during a client's sync: the client finishes on a later try")
    func hubKilledAndRestartedDuringSync() async throws {
        try await withProcessFixture { fixture in
            try await fixture.withScratchFolder { scratch in
                let reports = try collectionName("reports")
                let source = scratch.appendingPathComponent("source.sqlite").path
                let total = Self.seededDocuments
                _ = try seedReplica(at: source, count: total, collection: reports)
                let hubPath = fixture.path("hub.sqlite")
                let hub = try await fixture.startHub(database: hubPath)
                #expect(try await fixture.syncSucceeding(source, hub: hub.url).versionsPushed == total)

                let fresh = fixture.path("fresh.sqlite")
                try await fixture.initReplica(fresh)
                try await fixture.enroll(fresh, at: hub)
                let client = try fixture.start("fieldcli", fixture.syncArguments(fresh, hub: hub.url))
                _ = try await waitForPartialTransfer(into: fresh, by: client, total: total)
                hub.process.send(signal: SIGKILL)
                #expect(try await hub.process.waitForExit(timeout: .seconds(10)) == .signaled(SIGKILL))
                let atKill = try TemporaryReplica.open(at: fresh).status().versions
                #expect(atKill < total, "the client had not finished when the hub died")

                let restarted = try await startHub(fixture, database: hubPath, port: hub.port)
                // The interrupted client either gives up (hub unreachable) or, retrying, finishes.
                let interrupted = try await client.waitForExit(timeout: .seconds(300))
                #expect([.exited(0), .exited(69)].contains(interrupted), "\(client.standardError.suffix(2000))")
                var finished = interrupted == .exited(0)
                var attempts = 0
                while !finished, attempts < 5 {
                    attempts += 1
                    let outcome = try await fixture.sync(fresh, hub: restarted.url)
                    finished = outcome.exitStatus == 0
                    if !finished { try await Task.sleep(for: .seconds(1)) }
                }
                #expect(finished, "a later fieldcli sync succeeded")

                let store = try TemporaryReplica.open(at: fresh)
                #expect(try store.integrityProblems().isEmpty)
                #expect(try store.status().versions == total)
                let expected = try ReplicaContent(path: source, collections: [reports])
                #expect(try ReplicaContent(path: fresh, collections: [reports]) == expected)
                #expect(try await fixture.stop(restarted) == .exited(0))
                #expect(try TemporaryReplica.open(at: hubPath).integrityProblems().isEmpty)
                #expect(try TemporaryReplica.open(at: hubPath).status().versions == total)
            }
        }
    }

    @Test("The hub killed with SIGKILL in the middle of a large push keeps no half-applied push and takes the rest after a restart")
    func hubKilledDuringAPushRecovers() async throws {
        try await withProcessFixture { fixture in
            try await fixture.withScratchFolder { scratch in
                let reports = try collectionName("reports")
                let source = scratch.appendingPathComponent("source.sqlite").path
                let total = Self.seededDocuments
                _ = try seedReplica(at: source, count: total, collection: reports)
                let hubPath = fixture.path("hub.sqlite")
                let hub = try await fixture.startHub(database: hubPath)
                // The hub creates its replica on start; the client pushes in several requests.
                try await fixture.enroll(source, at: hub)
                let client = try fixture.start("fieldcli", fixture.syncArguments(source, hub: hub.url))
                _ = try await waitForPartialTransfer(into: hubPath, by: client, total: total)
                hub.process.send(signal: SIGKILL)
                #expect(try await hub.process.waitForExit(timeout: .seconds(10)) == .signaled(SIGKILL))
                let atKill = try TemporaryReplica.open(at: hubPath).status().versions
                #expect(atKill > 0 && atKill < total, "the hub held \(atKill) of \(total) versions when killed")
                #expect(try TemporaryReplica.open(at: hubPath).integrityProblems().isEmpty)

                let restarted = try await startHub(fixture, database: hubPath, port: hub.port)
                let interrupted = try await client.waitForExit(timeout: .seconds(300))
                #expect([.exited(0), .exited(69)].contains(interrupted), "\(client.standardError.suffix(2000))")
                var finished = interrupted == .exited(0)
                var attempts = 0
                while !finished, attempts < 5 {
                    attempts += 1
                    finished = try await fixture.sync(source, hub: restarted.url).exitStatus == 0
                    if !finished { try await Task.sleep(for: .seconds(1)) }
                }
                #expect(finished, "a later fieldcli sync succeeded")
                #expect(try await fixture.stop(restarted) == .exited(0))

                let hubStore = try TemporaryReplica.open(at: hubPath)
                #expect(try hubStore.integrityProblems().isEmpty)
                #expect(try hubStore.status().versions == total)
                #expect(try ReplicaContent(path: hubPath, collections: [reports]) == ReplicaContent(path: source, collections: [reports]))
            }
        }
    }

    @Test("syncd run delivers a write made while the hub was down once the hub starts, without a restart, and exits 0 on SIGTERM")
    func daemonDeliversAWriteMadeWhileTheHubWasDown() async throws {
        try await withProcessFixture { fixture in
            let reports = try collectionName("reports")
            let port = try freeLoopbackPort()
            let field = fixture.path("field.sqlite")
            let hubPath = fixture.path("hub.sqlite")
            try await fixture.initReplica(field)
            // Enrolled while the hub is up; the hub then stops, and the daemon starts without flags.
            let first = try await fixture.startHub(database: hubPath, port: port)
            try await fixture.enroll(field, at: first)
            #expect(try await fixture.stop(first) == .exited(0))
            let daemon = try fixture.start("syncd", ["run", "--db", field, "--interval", "2"])
            // Let it fail against the absent hub at least once (it then backs off).
            try await Task.sleep(for: .seconds(2))
            #expect(daemon.isRunning, "the daemon survives an unreachable hub: \(daemon.standardError.suffix(2000))")

            let id = try await fixture.put(field, "reports", body: #"{"title":"Convoy seen at the crossing"}"#)
            let key = DocumentKey(collection: reports, id: try #require(DocumentID(id)))
            let hub = try await startHub(fixture, database: hubPath, port: port)

            let deadline = ContinuousClock.now + .seconds(60)
            var delivered = false
            while !delivered, ContinuousClock.now < deadline, daemon.isRunning {
                try await Task.sleep(for: .milliseconds(250))
                delivered = try TemporaryReplica.open(at: hubPath).document(key) != nil
            }
            #expect(delivered, "the hub got the document within 60 s: \(daemon.standardError.suffix(3000))")
            #expect(daemon.isRunning, "the same daemon process delivered it")

            daemon.send(signal: SIGTERM)
            let ended = try await daemon.waitForExit(timeout: .seconds(10))
            #expect(ended == .exited(0), "\(daemon.standardError.suffix(2000))")
            #expect(try await fixture.stop(hub) == .exited(0))
        }
    }

    @Test("fieldcli sync against a closed port exits 69 with one sentence on stderr and leaves the replica unchanged")
    func unreachableHubIsOneSentence() async throws {
        try await withProcessFixture { fixture in
            let reports = try collectionName("reports")
            let field = fixture.path("field.sqlite")
            try await fixture.initReplica(field)
            _ = try await fixture.put(field, "reports", body: #"{"title":"Shots heard"}"#)
            let before = try TemporaryReplica.open(at: field).status()
            let contentBefore = try ReplicaContent(path: field, collections: [reports])

            let port = try freeLoopbackPort()
            let outcome = try await fixture.sync(field, hub: "http://127.0.0.1:\(port)", timeout: .seconds(180))
            #expect(outcome.exitStatus == 69, "\(outcome)")
            let message = outcome.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(!message.isEmpty)
            #expect(!message.contains("\n"), "one line on stderr: \(message)")
            #expect(message.hasSuffix("."), "one sentence: \(message)")
            #expect(message.contains("127.0.0.1:\(port)") || message.lowercased().contains("hub"), "it names the hub: \(message)")

            #expect(try TemporaryReplica.open(at: field).status() == before)
            #expect(try ReplicaContent(path: field, collections: [reports]) == contentBefore)
        }
    }
}

/// The text of a version's body ("<deleted>" for a tombstone).
private func bodyText(_ version: Version) -> String {
    version.body.map { String(decoding: $0, as: UTF8.self) } ?? "<deleted>"
}

/// Polls (every 5 ms, at most 120 s) the replica at `path` until it holds some versions while
/// `client` still runs; returns the count seen. Throws when the client exits first, when all
/// `total` versions are already there, or when nothing arrives in time.
private func waitForPartialTransfer(into path: String, by client: ChildProcess, total: Int) async throws -> Int {
    let store = try TemporaryReplica.open(at: path)
    let deadline = ContinuousClock.now + .seconds(120)
    while ContinuousClock.now < deadline {
        let count = try store.status().versions
        if count > 0 {
            if count >= total {
                throw ProcessFixtureError("The pull finished (\(count) versions) before it could be interrupted.")
            }
            return count
        }
        if !client.isRunning {
            throw ProcessFixtureError("\(client.commandLine) exited (\(client.termination.map { "\($0)" } ?? "?")) before pulling anything: \(client.standardError.suffix(2000))")
        }
        try await Task.sleep(for: .milliseconds(5))
    }
    throw ProcessFixtureError("Nothing was pulled into \(path) within 120 s.")
}

/// Starts a hub on `port`, retrying for a while if the port is not free again yet (a killed hub's
/// connections may linger).
private func startHub(_ fixture: ProcessFixture, database: String, port: Int) async throws -> RunningHub {
    var lastError: (any Error)?
    for _ in 0..<10 {
        do {
            return try await fixture.startHub(database: database, port: port)
        } catch {
            lastError = error
            try await Task.sleep(for: .seconds(1))
        }
    }
    throw lastError ?? ProcessFixtureError("The hub did not start on port \(port).")
}
