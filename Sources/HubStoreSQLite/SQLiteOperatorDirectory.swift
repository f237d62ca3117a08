public import Foundation
public import HubStore
public import Records
public import ReplicaStore

/// The operators' directory in the hub's SQLite replica: ReplicaStore's own methods, each in its
/// transaction, run off Swift's cooperative threads.
public struct SQLiteOperatorDirectory: OperatorDirectory {
    public let store: ReplicaStore

    public init(store: ReplicaStore) { self.store = store }

    public func now() -> UInt64 { store.now() }

    public func addOperator(name: String, role: OperatorRole, setupHash: Data, setupExpiresAt: UInt64) async throws
        -> OperatorAddition
    {
        let store = self.store
        return try await offload {
            try store.addOperator(name: name, role: role, setupHash: setupHash, setupExpiresAt: setupExpiresAt)
        }
    }

    public func removeOperator(name: String) async throws -> Bool {
        let store = self.store
        return try await offload { try store.removeOperator(name: name) }
    }

    public func operators(after name: String?, limit: Int) async throws -> (operators: [OperatorRecord], more: Bool) {
        let store = self.store
        return try await offload { try store.operators(after: name, limit: limit) }
    }

    public func operatorForSetup(hash: Data) async throws -> String? {
        let store = self.store
        return try await offload { try store.operatorForSetup(hash: hash) }
    }

    public func completeOperatorSetup(hash: Data, passwordHash: String) async throws -> String? {
        let store = self.store
        return try await offload { try store.completeOperatorSetup(hash: hash, passwordHash: passwordHash) }
    }

    public func operatorCredentials(name: String) async throws -> OperatorCredentials? {
        let store = self.store
        return try await offload {
            try store.operatorCredentials(name: name).map { OperatorCredentials(passwordHash: $0.passwordHash, role: $0.role) }
        }
    }

    public func startOperatorSession(
        tokenHash: Data, operator name: String, csrfToken: String, expiresAt: UInt64, address: String
    ) async throws {
        let store = self.store
        try await offload {
            try store.startOperatorSession(
                tokenHash: tokenHash, operator: name, csrfToken: csrfToken, expiresAt: expiresAt, address: address)
        }
    }

    public func auditFailedLogin(name: String, address: String, factor: String?) async throws {
        let store = self.store
        try await offload { try store.auditFailedLogin(name: name, address: address, factor: factor) }
    }

    public func useOperatorSession(tokenHash: Data, idle: UInt64, lifetime: UInt64) async throws -> OperatorSession? {
        let store = self.store
        return try await offload { try store.useOperatorSession(tokenHash: tokenHash, idle: idle, lifetime: lifetime) }
    }

    public func endOperatorSession(tokenHash: Data) async throws {
        let store = self.store
        try await offload { try store.endOperatorSession(tokenHash: tokenHash) }
    }

    public func setOperatorTOTP(name: String, secret: Data?) async throws -> Bool {
        let store = self.store
        return try await offload { try store.setOperatorTOTP(name: name, secret: secret) }
    }

    public func operatorTOTPSecret(name: String) async throws -> Data? {
        let store = self.store
        return try await offload { try store.operatorTOTPSecret(name: name) }
    }

    public func useOperatorTOTPStep(name: String, step: UInt64) async throws -> Bool {
        let store = self.store
        return try await offload { try store.useOperatorTOTPStep(name: name, step: step) }
    }

    public func createInformantKey(_ key: InformantPrivateKey, keyFileWritten: Bool) async throws
        -> (statement: InformantKeyStatement, granted: [String])
    {
        let store = self.store
        let created = try await offload { try store.createInformantKey(key, keyFileWritten: keyFileWritten) }
        return (created.0, created.1)
    }

    public func informantKey() async throws -> InformantKeyStatement? {
        let store = self.store
        return try await offload { try store.informantKey() }
    }

    public func operatorKey(name: String) async throws -> OperatorKeyRecord? {
        let store = self.store
        return try await offload { try store.operatorKey(name: name) }
    }

    public func eligibleOperatorKeyCount() async throws -> Int {
        let store = self.store
        return try await offload { try store.eligibleOperatorKeyCount() }
    }

    @discardableResult
    public func setOperatorKey(name: String, publicKey: InformantPublicKey, wrappedPrivateKey: String) async throws -> Bool {
        let store = self.store
        return try await offload {
            try store.setOperatorKey(name: name, publicKey: publicKey, wrappedPrivateKey: wrappedPrivateKey)
        }
    }

    @discardableResult
    public func grantInformantKeyToPending(_ key: InformantPrivateKey, by actor: String) async throws -> [String] {
        let store = self.store
        return try await offload { try store.grantInformantKeyToPending(key, by: actor) }
    }

    public func grantInformantKey(_ key: InformantPrivateKey, to name: String, by actor: String) async throws {
        let store = self.store
        try await offload { try store.grantInformantKey(key, to: name, by: actor) }
    }
}
