import Foundation
@testable import HubConsole
@testable import HubStore
import HubStoreSQLite
@testable import ReplicaStore
import SyncEngine
import Records
import Testing
import TestSupport

/// The informant key in the console's memory: opened through a second factor's step, held per
/// session, and gone at logout, at the session's expiry, and for a role below resolver.
@Suite("Console informant keyring")
struct ConsoleInformantKeyringTests {
    static func session(_ csrf: String, role: OperatorRole, expiresAt: UInt64) -> OperatorSession {
        OperatorSession(operatorName: "amina", role: role, csrfToken: csrf, expiresAt: expiresAt)
    }

    @Test func keysAreHeldPerSessionUntilLogoutOrExpiry() {
        let keyring = InformantKeyring()
        let key = InformantPrivateKey()
        keyring.put(key, session: "a", expiresAt: 2_000, now: 1_000)
        #expect(keyring.key(for: Self.session("a", role: .resolver, expiresAt: 2_000), now: 1_500)?.publicKey == key.publicKey)
        #expect(keyring.key(for: Self.session("b", role: .resolver, expiresAt: 2_000), now: 1_500) == nil, "another session holds nothing")
        #expect(keyring.key(for: Self.session("a", role: .viewer, expiresAt: 2_000), now: 1_500) == nil, "a viewer never gets it")
        #expect(keyring.key(for: Self.session("a", role: .resolver, expiresAt: 2_000), now: 1_500) == nil, "and it is dropped then")

        keyring.put(key, session: "c", expiresAt: 2_000, now: 1_000)
        #expect(keyring.key(for: Self.session("c", role: .admin, expiresAt: 3_000), now: 1_900) != nil, "used: held as long as the session")
        #expect(keyring.key(for: Self.session("c", role: .admin, expiresAt: 3_000), now: 2_500) != nil)
        #expect(keyring.key(for: Self.session("c", role: .admin, expiresAt: 4_000), now: 3_100) == nil, "past the session's expiry")

        keyring.put(key, session: "d", expiresAt: 9_000, now: 1_000)
        keyring.drop(session: "d")
        #expect(keyring.key(for: Self.session("d", role: .admin, expiresAt: 9_000), now: 1_500) == nil, "logout drops it")
    }

    /// An admin with a second factor: the password opens the key at the first step, the session
    /// the code starts holds it.
    @Test func aSecondFactorLoginOpensTheKey() async throws {
        let clock = PinnedClock(ConsoleSecondFactorTests.start)
        try await ConsoleHub.with(clock: clock) { hub in
            try await ConsoleSecurityTests.addOperator(hub, "root", role: .admin)
            let secret = try await OperatorAdministration(operators: hub.operators).enrollSecondFactor(name: "root")
            let informant = InformantPrivateKey()
            #expect(try hub.store.createInformantKey(informant, keyFileWritten: false).1 == ["root"])

            let key = DocumentKey(collection: RecordKind.observation.collection, id: DocumentID("obs-t")!)
            let sealed = try InformantSeal.seal("Imam Y.", to: informant.publicKey, collection: key.collection, id: key.id)
            let body = SampleRecords.observation.replacingOccurrences(of: SampleRecords.informant, with: sealed)
            let folder = try TemporaryReplica()
            defer { folder.remove() }
            let device = try folder.create("device")
            try hub.store.apply([try device.write(WriteIntent(key: key, body: Data(body.utf8)))], from: device.replicaID)

            let browser = ConsoleBrowser(base: hub.url)
            let page = try await ConsoleSecondFactorTests.passwordStep(browser, "root")
            let code = TOTP.code(secret: secret, step: TOTP.step(at: clock.tick()))
            #expect(try await ConsoleSecondFactorTests.sendCode(browser, page, code).status == 303)
            let shown = try await browser.get("/console/conflicts/observations/obs-t")
            #expect(shown.body.contains("Imam Y.") && !shown.body.contains(sealed))
        }
    }

    /// A conflict between two sealed references: a resolver sees both opened side by side, merges
    /// keeping the second, and the resolution holds that sibling's sealed text byte for byte.
    @Test func aMergeKeepsTheChosenSealedValueByteForByte() async throws {
        try await ConsoleHub.with { hub in
            try await ConsoleSecurityTests.addOperator(hub, "rafael", role: .resolver)
            let informant = InformantPrivateKey()
            #expect(try hub.store.createInformantKey(informant, keyFileWritten: false).1 == ["rafael"])
            let key = DocumentKey(collection: RecordKind.observation.collection, id: DocumentID("obs-m")!)
            let sealedA = try InformantSeal.seal("Imam Y.", to: informant.publicKey, collection: key.collection, id: key.id)
            let sealedB = try InformantSeal.seal("Imam Z.", to: informant.publicKey, collection: key.collection, id: key.id)
            let folder = try TemporaryReplica()
            defer { folder.remove() }
            let (a, b) = (try folder.create("a"), try folder.create("b"))
            let first = try a.write(WriteIntent(
                key: key, body: Data(SampleRecords.observation.replacingOccurrences(of: SampleRecords.informant, with: sealedA).utf8)))
            let second = try b.write(WriteIntent(
                key: key, body: Data(SampleRecords.observation.replacingOccurrences(of: SampleRecords.informant, with: sealedB).utf8)))
            try hub.store.apply([first, second], from: a.replicaID)

            let browser = ConsoleBrowser(base: hub.url)
            #expect(try await browser.logIn("rafael", ConsoleSecurityTests.password).status == 303)
            let page = try await browser.get("/console/conflicts/observations/obs-m")
            #expect(page.body.contains("Imam Y.") && page.body.contains("Imam Z."))
            let fromB = try #require(try hub.store.document(key)?.siblings.firstIndex { $0.dot == second.dot })
            let answer = try await browser.post(
                "/console/conflicts/observations/obs-m/resolve",
                [("csrf", page.csrf ?? ""), ("siblings", ConsoleBrowser.Answer.value(of: "siblings", in: page.body) ?? ""),
                 ("reason", "the second informant"), ("keep", "merge"), ("field.source_protection", "\(fromB)")])
            #expect(answer.status == 303)
            let body = try #require(try hub.store.document(key)?.siblings.first?.body)
            let object = try #require(try JSONSerialization.jsonObject(with: body) as? [String: Any])
            let protection = try #require(object["source_protection"] as? [String: Any])
            #expect(protection["informant_ref"] as? String == sealedB)
        }
    }
}
