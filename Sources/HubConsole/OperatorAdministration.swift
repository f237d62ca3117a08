public import Foundation
public import HubStore

/// What `syncd operators` does on the hub's database: add operator accounts (each with a one-time
/// setup link), list and remove them.
public struct OperatorAdministration: Sendable {
    public let operators: any OperatorDirectory

    public init(operators: any OperatorDirectory) { self.operators = operators }

    /// Adds an operator with `role`; returns the setup token (shown once: the hub keeps its hash)
    /// and until when it works. Throws ``ConsoleError`` for a bad or taken name.
    public func add(name: String, role: OperatorRole, lifetime: Duration) async throws -> (token: String, expiresAt: UInt64) {
        guard Self.isValidName(name) else {
            throw ConsoleError("An operator name is 1 to 64 letters, digits, dots, dashes or underscores, such as amina.k")
        }
        let token = ConsoleTokens.random()
        let expiresAt = operators.now() + UInt64(max(1, lifetime.components.seconds)) * 1_000
        let outcome = try await operators.addOperator(
            name: name, role: role, setupHash: ConsoleTokens.hash(token), setupExpiresAt: expiresAt)
        guard outcome == .added else { throw ConsoleError("An operator is already called '\(name)'.") }
        return (token, expiresAt)
    }

    /// Every operator, by name, read a page at a time.
    public func list() async throws -> [OperatorRecord] {
        var all: [OperatorRecord] = []
        var after: String?
        while true {
            let page = try await operators.operators(after: after, limit: 500)
            all += page.operators
            guard page.more, let last = page.operators.last else { return all }
            after = last.name
        }
    }

    /// Removes an operator and ends their sessions; false when there is none of that name.
    public func remove(name: String) async throws -> Bool { try await operators.removeOperator(name: name) }

    /// Gives the operator `name` a new second factor (replacing one they had, ending their
    /// sessions): returns the secret, shown once, for their authenticator app. Throws
    /// ``ConsoleError`` when there is no operator of that name.
    public func enrollSecondFactor(name: String) async throws -> Data {
        let secret = TOTP.randomSecret()
        guard try await operators.setOperatorTOTP(name: name, secret: secret) else { throw ConsoleError("No operator is called '\(name)'.") }
        return secret
    }

    /// Removes the operator `name`'s second factor (they log in with their password alone).
    public func removeSecondFactor(name: String) async throws {
        guard try await operators.setOperatorTOTP(name: name, secret: nil) else { throw ConsoleError("No operator is called '\(name)'.") }
    }

    /// The setup link of `token` on a hub reached at `baseURL` (such as https://hub.example:8443).
    public static func setupLink(baseURL: String, token: String) -> String {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        return "\(base)/console/setup/\(token)"
    }

    static func isValidName(_ name: String) -> Bool {
        (1...64).contains(name.utf8.count) && name.utf8.allSatisfy { byte in
            (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                || byte == 0x2D || byte == 0x2E || byte == 0x5F
        }
    }
}
