import Foundation
import HubStore
import HubStoreSQLite
import Records
import ReplicaStore
import SyncEngine
import Testing

/// The operator directory's contract, written once over `any OperatorDirectory`, run on every
/// backend in ``RegistryBackend/enabled``: accounts, setup links, sessions, second factors, the
/// audit of each, and the informant key sealed per operator must behave alike on the SQLite hub and
/// on the PostgreSQL hub, whose processes share one directory.
@Suite(.serialized)
struct OperatorDirectoryConformanceTests {
    static let hour: UInt64 = 3_600_000
    static let minute: UInt64 = 60_000

    @Test(arguments: RegistryBackend.enabled)
    func accountsAreAddedOnceListedByNameAndRemovedAudited(_ backend: RegistryBackend) async throws {
        try await OperatorDirectoryUnderTest.with(backend) { hub in
            try await hub.add("amina.k", role: .resolver)
            try await hub.add("Bola", role: .viewer)
            try await hub.add("chen", role: .admin)
            let taken = try await hub.other.addOperator(
                name: "amina.k", role: .admin, setupHash: Data(repeating: 1, count: 32), setupExpiresAt: hub.clock.now() + 1)
            #expect(taken == .nameTaken, "another process sees the name taken")

            let first = try await hub.other.operators(after: nil, limit: 2)
            #expect(first.operators.map(\.name) == ["Bola", "amina.k"], "by name, byte by byte")
            #expect(first.more)
            let second = try await hub.directory.operators(after: "amina.k", limit: 2)
            #expect(second.operators.map(\.name) == ["chen"] && !second.more)
            let amina = try #require(first.operators.last)
            #expect(amina.role == .resolver && !amina.hasPassword && !amina.hasSecondFactor)
            #expect(amina.createdAt == hub.clock.now() && amina.setupExpiresAt == hub.clock.now() + Self.hour)

            #expect(try await hub.other.removeOperator(name: "Bola"))
            #expect(try await !hub.directory.removeOperator(name: "Bola"))
            #expect(try await hub.directory.operators(after: nil, limit: 10).operators.map(\.name) == ["amina.k", "chen"])

            let added = try await hub.audited(.operatorAdded)
            #expect(added.map(\.subject) == ["amina.k", "Bola", "chen"], "a name taken is not audited")
            #expect(added.allSatisfy { $0.actor == AuditEntry.operatorActor })
            #expect(added.first?.detail == ["role": "resolver", "setupExpiresAt": "\(hub.clock.now() + Self.hour)"])
            #expect(try await hub.audited(.operatorRemoved).map(\.subject) == ["Bola"])
        }
    }

    @Test(arguments: RegistryBackend.enabled)
    func aSetupLinkWorksOnceUntilItExpires(_ backend: RegistryBackend) async throws {
        try await OperatorDirectoryUnderTest.with(backend) { hub in
            let link = try await hub.add("amina", role: .admin)
            #expect(try await hub.other.operatorForSetup(hash: link) == "amina")
            #expect(try await hub.directory.operatorForSetup(hash: Data(repeating: 9, count: 32)) == nil)
            #expect(try await hub.directory.operatorCredentials(name: "amina") == nil, "no password yet")

            // Two processes complete the same link at once: exactly one sets the password.
            async let first = hub.directory.completeOperatorSetup(hash: link, passwordHash: "first")
            async let second = hub.other.completeOperatorSetup(hash: link, passwordHash: "second")
            let outcomes = [try await first, try await second]
            #expect(outcomes.compactMap { $0 } == ["amina"], "\(outcomes)")
            let credentials = try #require(try await hub.directory.operatorCredentials(name: "amina"))
            #expect(credentials.role == .admin)
            #expect(credentials.passwordHash == (outcomes[0] != nil ? "first" : "second"))
            #expect(try await hub.directory.operatorForSetup(hash: link) == nil, "used up")
            #expect(try await hub.directory.completeOperatorSetup(hash: link, passwordHash: "again") == nil)
            let record = try #require(try await hub.directory.operators(after: nil, limit: 1).operators.first)
            #expect(record.hasPassword && record.setupExpiresAt == nil)

            let late = try await hub.add("bola", role: .viewer)
            hub.clock.advance(by: Self.hour)
            #expect(try await hub.directory.operatorForSetup(hash: late) == nil, "expired at its hour")
            #expect(try await hub.directory.completeOperatorSetup(hash: late, passwordHash: "late") == nil)
            #expect(try await hub.directory.operatorCredentials(name: "bola") == nil)

            let set = try await hub.audited(.operatorPasswordSet)
            #expect(set.map(\.subject) == ["amina"] && set[0].actor == operatorAuditActor("amina"))
        }
    }

    @Test(arguments: RegistryBackend.enabled)
    func sessionsEndWhenIdleAtTheirLifetimeAndAtLogout(_ backend: RegistryBackend) async throws {
        try await OperatorDirectoryUnderTest.with(backend) { hub in
            try await hub.addWithPassword("amina", role: .resolver)
            let start = hub.clock.now()
            let (idle, lifetime) = (30 * Self.minute, 2 * Self.hour)
            let token = Data(repeating: 1, count: 32)
            try await hub.directory.startOperatorSession(
                tokenHash: token, operator: "amina", csrfToken: "csrf-1", expiresAt: start + idle, address: "192.0.2.7")

            hub.clock.advance(by: 20 * Self.minute)
            let used = try #require(try await hub.other.useOperatorSession(tokenHash: token, idle: idle, lifetime: lifetime))
            #expect(used == OperatorSession(operatorName: "amina", role: .resolver, csrfToken: "csrf-1", expiresAt: start + 50 * Self.minute))
            #expect(try await hub.directory.useOperatorSession(tokenHash: Data(repeating: 2, count: 32), idle: idle, lifetime: lifetime) == nil)

            // Used every 29 minutes, it lives to its lifetime and no longer.
            for step in UInt64(1)...3 {
                hub.clock.advance(by: 29 * Self.minute)
                #expect(try await hub.directory.useOperatorSession(tokenHash: token, idle: idle, lifetime: lifetime) != nil, "\(step)")
            }
            hub.clock.advance(by: start + lifetime - 1 - hub.clock.now())
            let last = try #require(try await hub.directory.useOperatorSession(tokenHash: token, idle: idle, lifetime: lifetime))
            #expect(last.expiresAt == start + lifetime, "never past its lifetime")
            hub.clock.advance(by: 1)
            #expect(try await hub.directory.useOperatorSession(tokenHash: token, idle: idle, lifetime: lifetime) == nil)

            // Unused for longer than the idle timeout.
            let idleToken = Data(repeating: 3, count: 32)
            let now = hub.clock.now()
            try await hub.directory.startOperatorSession(
                tokenHash: idleToken, operator: "amina", csrfToken: "csrf-3", expiresAt: now + idle, address: "192.0.2.8")
            hub.clock.advance(by: idle)
            #expect(try await hub.other.useOperatorSession(tokenHash: idleToken, idle: idle, lifetime: lifetime) == nil)

            // Logout, and a removed operator's sessions.
            let out = Data(repeating: 4, count: 32)
            try await hub.directory.startOperatorSession(
                tokenHash: out, operator: "amina", csrfToken: "csrf-4", expiresAt: hub.clock.now() + idle, address: "192.0.2.9")
            try await hub.other.endOperatorSession(tokenHash: out)
            try await hub.other.endOperatorSession(tokenHash: out)
            #expect(try await hub.directory.useOperatorSession(tokenHash: out, idle: idle, lifetime: lifetime) == nil)
            let kept = Data(repeating: 5, count: 32)
            try await hub.directory.startOperatorSession(
                tokenHash: kept, operator: "amina", csrfToken: "csrf-5", expiresAt: hub.clock.now() + idle, address: "192.0.2.9")
            #expect(try await hub.directory.removeOperator(name: "amina"))
            #expect(try await hub.directory.useOperatorSession(tokenHash: kept, idle: idle, lifetime: lifetime) == nil)

            let logins = try await hub.audited(.operatorLogin)
            #expect(logins.map { $0.detail["address"] } == ["192.0.2.7", "192.0.2.8", "192.0.2.9", "192.0.2.9"])
            #expect(logins.allSatisfy { $0.actor == operatorAuditActor("amina") && $0.subject == "amina" })
            #expect(try await hub.audited(.operatorLogout).count == 1, "the second logout found no session")
        }
    }

    @Test(arguments: RegistryBackend.enabled)
    func aPasswordSetOrASecondFactorChangedEndsTheSessions(_ backend: RegistryBackend) async throws {
        try await OperatorDirectoryUnderTest.with(backend) { hub in
            try await hub.addWithPassword("amina", role: .admin)
            let (idle, lifetime) = (30 * Self.minute, 2 * Self.hour)
            let token = Data(repeating: 1, count: 32)
            try await hub.directory.startOperatorSession(
                tokenHash: token, operator: "amina", csrfToken: "c", expiresAt: hub.clock.now() + idle, address: "a")
            #expect(try await hub.other.setOperatorTOTP(name: "amina", secret: Data(repeating: 7, count: 20)))
            #expect(try await hub.directory.useOperatorSession(tokenHash: token, idle: idle, lifetime: lifetime) == nil)
            #expect(try await !hub.directory.setOperatorTOTP(name: "nobody", secret: Data(repeating: 7, count: 20)))
        }
    }

    @Test(arguments: RegistryBackend.enabled)
    func aTOTPStepIsUsedOnceEvenByConcurrentLogins(_ backend: RegistryBackend) async throws {
        try await OperatorDirectoryUnderTest.with(backend) { hub in
            try await hub.addWithPassword("amina", role: .admin)
            #expect(try await !hub.directory.useOperatorTOTPStep(name: "amina", step: 5), "no second factor yet")
            let secret = Data(repeating: 7, count: 20)
            #expect(try await hub.directory.setOperatorTOTP(name: "amina", secret: secret))
            #expect(try await hub.other.operatorTOTPSecret(name: "amina") == secret)
            #expect(try await hub.directory.operators(after: nil, limit: 1).operators.first?.hasSecondFactor == true)

            #expect(try await hub.directory.useOperatorTOTPStep(name: "amina", step: 5))
            #expect(try await !hub.other.useOperatorTOTPStep(name: "amina", step: 5), "used once")
            #expect(try await !hub.directory.useOperatorTOTPStep(name: "amina", step: 4), "an earlier step after a later one")
            #expect(try await !hub.directory.useOperatorTOTPStep(name: "nobody", step: 6))

            // Eight logins with the same code at once, through both processes: exactly one wins.
            let directories = [hub.directory, hub.other]
            let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<8 {
                    let directory = directories[index % 2]
                    group.addTask { try await directory.useOperatorTOTPStep(name: "amina", step: 9) }
                }
                var wins = 0
                for try await won in group where won { wins += 1 }
                return wins
            }
            #expect(wins == 1)

            // A new secret forgets the steps used; removing it takes the factor away.
            #expect(try await hub.directory.setOperatorTOTP(name: "amina", secret: Data(repeating: 8, count: 20)))
            #expect(try await hub.directory.useOperatorTOTPStep(name: "amina", step: 3))
            #expect(try await hub.directory.setOperatorTOTP(name: "amina", secret: nil))
            #expect(try await hub.directory.operatorTOTPSecret(name: "amina") == nil)
            #expect(try await !hub.directory.useOperatorTOTPStep(name: "amina", step: 10))
            let changes = try await hub.audited(.operatorTOTPChanged)
            #expect(changes.map { $0.detail["totp"] } == ["set", "set", "removed"])
            #expect(changes.allSatisfy { $0.actor == AuditEntry.operatorActor && $0.subject == "amina" })
        }
    }

    @Test(arguments: RegistryBackend.enabled)
    func failedLoginsAreAuditedWithTheNameShortened(_ backend: RegistryBackend) async throws {
        try await OperatorDirectoryUnderTest.with(backend) { hub in
            let long = String(repeating: "x", count: 100)
            try await hub.directory.auditFailedLogin(name: long, address: "192.0.2.7", factor: nil)
            try await hub.other.auditFailedLogin(name: "amina", address: "192.0.2.8", factor: "code")
            let failed = try await hub.audited(.operatorLoginFailed)
            #expect(failed.map(\.subject) == [String(repeating: "x", count: 64), "amina"])
            #expect(failed.map(\.detail) == [["address": "192.0.2.7"], ["address": "192.0.2.8", "factor": "code"]])
            #expect(failed.allSatisfy { $0.actor == "console" && hub.auditLog.isSignedByHub($0) })
        }
    }

    @Test(arguments: RegistryBackend.enabled)
    func theInformantKeyIsMadeOnceSignedAndSealedToEachEligibleOperator(_ backend: RegistryBackend) async throws {
        try await OperatorDirectoryUnderTest.with(backend) { hub in
            for (name, role) in [("amina", OperatorRole.resolver), ("bola", .viewer), ("chen", .admin), ("dede", .resolver)] {
                try await hub.addWithPassword(name, role: role)
            }
            let own = ["amina": InformantPrivateKey(), "bola": InformantPrivateKey(), "chen": InformantPrivateKey()]
            for (name, key) in own {
                #expect(try await hub.directory.setOperatorKey(name: name, publicKey: key.publicKey, wrappedPrivateKey: "wrapped-\(name)"))
            }
            #expect(try await !hub.other.setOperatorKey(name: "amina", publicKey: InformantPrivateKey().publicKey, wrappedPrivateKey: "x"), "kept")
            #expect(try await !hub.other.setOperatorKey(name: "nobody", publicKey: InformantPrivateKey().publicKey, wrappedPrivateKey: "x"))
            #expect(try await hub.directory.eligibleOperatorKeyCount() == 2, "amina and chen; bola is a viewer, dede has no key pair")
            #expect(try await hub.directory.informantKey() == nil)

            let key = InformantPrivateKey()
            let created = try await hub.directory.createInformantKey(key, keyFileWritten: false)
            #expect(created.granted == ["amina", "chen"])
            #expect(created.statement.publicKey == key.publicKey && created.statement.hub == hub.hubID)
            #expect(created.statement.isSigned(by: hub.hubKey))
            #expect(try await hub.other.informantKey() == created.statement)
            await #expect(throws: InformantKeyError(.exists)) {
                _ = try await hub.other.createInformantKey(InformantPrivateKey(), keyFileWritten: true)
            }

            let amina = try #require(try await hub.other.operatorKey(name: "amina"))
            #expect(amina.role == .resolver && amina.wrappedPrivateKey == "wrapped-amina")
            #expect(amina.publicKey == own["amina"]?.publicKey)
            let sealed = try #require(amina.sealedInformantKey)
            let opened = try X25519Box.open(
                sealed, with: try #require(own["amina"]), info: InformantKeyGrant.info,
                aad: InformantKeyGrant.aad(operator: "amina", keyID: key.publicKey.keyID))
            #expect(opened == key.rawRepresentation)
            #expect(try await hub.directory.operatorKey(name: "bola")?.sealedInformantKey == nil, "a viewer gets none")
            #expect(try await hub.directory.operatorKey(name: "dede") == nil)

            // Granting by hand: who may and may not get it.
            await #expect(throws: InformantKeyError(.notEligible)) { try await hub.directory.grantInformantKey(key, to: "bola", by: "operator") }
            await #expect(throws: InformantKeyError(.noSuchOperator)) { try await hub.directory.grantInformantKey(key, to: "nobody", by: "operator") }
            await #expect(throws: InformantKeyError(.noOperatorKey)) { try await hub.directory.grantInformantKey(key, to: "dede", by: "operator") }
            await #expect(throws: InformantKeyError(.wrongKey)) {
                try await hub.directory.grantInformantKey(InformantPrivateKey(), to: "amina", by: "operator")
            }
            let dede = InformantPrivateKey()
            #expect(try await hub.directory.setOperatorKey(name: "dede", publicKey: dede.publicKey, wrappedPrivateKey: "w"))
            try await hub.other.grantInformantKey(key, to: "dede", by: operatorAuditActor("chen"))
            #expect(try await hub.directory.operatorKey(name: "dede")?.sealedInformantKey != nil)

            // Pending grants at a login: only those without a copy, once.
            try await hub.add("ekow", role: .admin)
            #expect(try await hub.directory.setOperatorKey(name: "ekow", publicKey: InformantPrivateKey().publicKey, wrappedPrivateKey: "w"))
            #expect(try await hub.other.grantInformantKeyToPending(key, by: operatorAuditActor("amina")) == ["ekow"])
            #expect(try await hub.directory.grantInformantKeyToPending(key, by: operatorAuditActor("amina")).isEmpty)
            await #expect(throws: InformantKeyError(.wrongKey)) {
                _ = try await hub.directory.grantInformantKeyToPending(InformantPrivateKey(), by: "operator")
            }

            let made = try await hub.audited(.informantKeyCreated)
            #expect(made.map(\.subject) == [key.publicKey.keyID] && made[0].detail == ["keyFile": "none"])
            let grants = try await hub.audited(.informantKeyGranted)
            #expect(grants.map(\.subject) == ["amina", "chen", "dede", "ekow"])
            #expect(grants.map(\.actor) == ["operator", "operator", operatorAuditActor("chen"), operatorAuditActor("amina")])
            #expect(grants.allSatisfy { $0.detail == ["keyId": key.publicKey.keyID] })
        }
    }

    @Test(arguments: RegistryBackend.enabled)
    func twoProcessesMakingTheInformantKeyAtOnceMakeOne(_ backend: RegistryBackend) async throws {
        try await OperatorDirectoryUnderTest.with(backend) { (hub: OperatorDirectoryUnderTest) async throws in
            async let first = Self.succeeds { _ = try await hub.directory.createInformantKey(InformantPrivateKey(), keyFileWritten: true) }
            async let second = Self.succeeds { _ = try await hub.other.createInformantKey(InformantPrivateKey(), keyFileWritten: true) }
            let outcomes = [await first, await second]
            #expect(outcomes.filter { $0 }.count == 1, "\(outcomes)")
            #expect(try await hub.directory.informantKey() != nil)
            #expect(try await hub.audited(.informantKeyCreated).count == 1)
        }
    }

    /// Whether `body` returned (true) or threw (false).
    static func succeeds(_ body: @Sendable () async throws -> Void) async -> Bool {
        do {
            try await body()
            return true
        } catch {
            return false
        }
    }
}
