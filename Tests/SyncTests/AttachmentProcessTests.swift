import Foundation
import SyncEngine
import Testing
import TestSupport

/// Attachments end to end with the real executables: `fieldcli record observation --attach`,
/// `fieldcli attach`, `fieldcli attachments` (list, get, fetch), `fieldcli sync` against
/// `syncd serve --max-attachment-bytes`, and `syncd devices add --media`.
@Suite("Attachments with real syncd and fieldcli processes", .serialized, .timeLimit(.minutes(10)))
struct AttachmentProcessTests {
    @Test("attach, list, sync, get and fetch through fieldcli and syncd; an attachment over the hub's limit exits 87 naming file and limit")
    func attachmentsEndToEnd() async throws {
        try await withProcessFixture { fixture in
            let hubPath = fixture.path("hub.sqlite")
            let writer = fixture.path("writer.sqlite")
            let analyst = fixture.path("analyst.sqlite")
            let phone = fixture.path("phone.sqlite")
            let child = try fixture.start(
                "syncd", ["serve", "--db", hubPath, "--listen", "127.0.0.1:0", "--max-attachment-bytes", "900000"])
            let prefix = "syncd: listening on http://127.0.0.1:"
            let line = try await child.waitForLine(timeout: .seconds(60)) { $0.hasPrefix(prefix) }
            let hubURL = "http://127.0.0.1:" + String(line.dropFirst(prefix.count).prefix { $0.isNumber })
            for database in [writer, analyst, phone] { try await fixture.initReplica(database) }
            try await fixture.enroll(writer, hubURL: hubURL, hubDatabase: hubPath)
            try await fixture.enroll(phone, hubURL: hubURL, hubDatabase: hubPath)
            let added = try await fixture.run(
                "syncd", ["devices", "add", "analyst", "--all", "--media", "all", "--db", hubPath, "--json"])
            struct Added: Decodable { var code: String }
            let code = try JSONDecoder().decode(Added.self, from: Data(added.output.utf8)).code
            #expect(try await fixture.fieldcli(analyst, ["enroll"], ["--hub", hubURL, "--code", code]).exitStatus == 0)
            let devices = try await fixture.run("syncd", ["devices", "list", "--db", hubPath, "--json"])
            #expect(devices.output.contains(#""media":"all""#) && devices.output.contains(#""media":"own""#))
            #expect(try await fixture.run("syncd", ["devices", "scopes", "analyst", "--media", "some", "--db", hubPath]).exitStatus == 64)

            let photo = AttachmentFixtures.bytes(500_000, seed: 11)
            let video = AttachmentFixtures.bytes(1_000_000, seed: 12)
            let photoPath = fixture.path("photo.jpg")
            let videoPath = fixture.path("video.mp4")
            try photo.write(to: URL(fileURLWithPath: photoPath))
            try video.write(to: URL(fileURLWithPath: videoPath))
            let recorded = try await fixture.fieldcli(
                writer, ["record", "observation"],
                [
                    "--no-prompt", "--report-kind", "incident", "--event-date", "2026-03-01", "--event-type", "Riots",
                    "--actor1", "Rioters", "--inter1", "5", "--country", "SD", "--admin1", "SD-DN", "--mode", "direct",
                    "--attach", photoPath,
                ])
            #expect(recorded.exitStatus == 0)
            let id = recorded.output.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(try await fixture.fieldcli(writer, ["attach", "observations", id, videoPath]).exitStatus == 0)
            let listed = try await fixture.fieldcli(writer, ["attachments", "observations", id])
            #expect(listed.output.contains("photo.jpg  image/jpeg") && listed.output.contains("video.mp4  video/mp4"))
            #expect(listed.output.components(separatedBy: "  held").count == 3)

            let synced = try await fixture.run("fieldcli", ["sync", "--db", writer, "--hub", hubURL])
            #expect(synced.exitStatus == 87)
            #expect(synced.stderr.contains("video.mp4") && synced.stderr.contains("900000 bytes"))

            #expect(try await fixture.run("fieldcli", ["sync", "--db", analyst, "--hub", hubURL]).exitStatus == 0)
            let photoHash = AttachmentDigest.hex(of: photo)
            let videoHash = AttachmentDigest.hex(of: video)
            let seen = try await fixture.fieldcli(analyst, ["attachments", "observations", id])
            #expect(seen.output.contains("\(photoHash)  held"))
            #expect(seen.output.contains("\(videoHash)  not on this device; fetch: fieldcli attachments fetch observations \(id) \(videoHash)"))
            let status = try await fixture.fieldcli(analyst, ["status"], ["--json"])
            let fields = try #require(try JSONSerialization.jsonObject(with: Data(status.output.utf8)) as? [String: Any])
            #expect((fields["attachmentsLacked"] as? [String: Any])?["count"] as? Int == 1)
            let writerStatus = try await fixture.fieldcli(writer, ["status"])
            #expect(writerStatus.output.contains("media out   1 files to send (1.0 MB)"))
            let out = fixture.path("out.jpg")
            #expect(try await fixture.fieldcli(analyst, ["attachments", "get", "observations", id, photoHash], ["--out", out]).exitStatus == 0)
            #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == photo)
            let missing = try await fixture.fieldcli(
                analyst, ["attachments", "get", "observations", id, videoHash], ["--out", fixture.path("video-out.mp4")])
            #expect(missing.exitStatus == 86)
            #expect(missing.stderr.contains("fieldcli attachments fetch observations \(id) \(videoHash)"))

            // The phone (default policy own) gets the report, not the photo, until it asks.
            #expect(try await fixture.run("fieldcli", ["sync", "--db", phone, "--hub", hubURL]).exitStatus == 0)
            #expect(try await fixture.fieldcli(phone, ["attachments", "observations", id]).output.contains("\(photoHash)  not on this device"))
            let fetched = try await fixture.fieldcli(phone, ["attachments", "fetch", "observations", id, photoHash], ["--hub", hubURL])
            #expect(fetched.exitStatus == 0)
            let phoneOut = fixture.path("phone.jpg")
            #expect(try await fixture.fieldcli(phone, ["attachments", "get", "observations", id, photoHash], ["--out", phoneOut]).exitStatus == 0)
            #expect(try Data(contentsOf: URL(fileURLWithPath: phoneOut)) == photo)
            child.send(signal: SIGTERM)
            _ = try await child.waitForExit(timeout: .seconds(20))
        }
    }
}
