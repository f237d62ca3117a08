import Foundation
public import PostgresNIO

extension PostgresClient.Configuration {
    /// The configuration of a `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE` address (also
    /// `postgresql://`; the password percent-encoded; port 5432 when absent). TLS is off: the
    /// address must name a server on a trusted network (loopback in tests).
    public init(address: String) throws {
        guard let components = URLComponents(string: address),
            ["postgres", "postgresql"].contains(components.scheme ?? ""),
            let host = components.host, !host.isEmpty, let user = components.user, !user.isEmpty
        else {
            throw PostgresStoreError(
                .invalidAddress, "A PostgreSQL address is postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE.")
        }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty, !database.contains("/") else {
            throw PostgresStoreError(
                .invalidAddress,
                "A PostgreSQL address names its database after the host: postgres://USER@HOST/DATABASE.")
        }
        self.init(
            host: host, port: components.port ?? 5432, username: user, password: components.password,
            database: database, tls: .disable)
    }
}
