import Foundation
import SyncEngine
import Testing

@Suite("Scope patterns and grants")
struct ScopeTests {
    static func allows(_ scope: String, _ collection: String, _ partition: String) throws -> Bool {
        let scope = try #require(Scope(text: scope))
        return scope.allows(collection: CollectionName(collection)!, partition: Partition(partition)!)
    }

    @Test("patterns match by collection and partition, each a name, a prefix and *, or *")
    func matching() throws {
        #expect(try Self.allows("observations/SD-*", "observations", "SD-DN"))
        #expect(try !Self.allows("observations/SD-*", "observations", "ML-1"))
        #expect(try !Self.allows("observations/SD-*", "situations", "SD-DN"))
        #expect(try Self.allows("situations", "situations", "anything"))
        #expect(try Self.allows("*", "warnings", "ML-1"))
        #expect(try Self.allows("obs*/*", "observations", "ML-1"))
        #expect(try Self.allows("observations/SD-DN,situations/ML-*", "situations", "ML-2"))
        #expect(try !Self.allows("none", "observations", "SD-DN"))
        #expect(try !Self.allows("observations/SD-DN", "observations", "SD-DNX"))
    }

    @Test("invalid patterns are refused", arguments: [
        "", "observations/", "Observations/SD", "obs*rvations/SD", "observations/SD/x", "observations/../etc",
        "observations/S D", "*/**", "observations,", "a/b\u{0}",
    ])
    func invalid(_ text: String) {
        #expect(Scope(text: text) == nil)
    }

    @Test("the text form is canonical: sorted, without patterns another covers")
    func canonicalText() throws {
        let scope = try #require(Scope(text: " situations , observations/SD-DN,observations/SD-*,situations/ML-1 "))
        #expect(scope.text == "observations/SD-*,situations/*")
        #expect(Scope(text: scope.text) == scope)
        #expect(try #require(Scope(text: "observations/*,*")).text == "*")
        #expect(Scope.nothing.text == "none")
        #expect(Scope(text: "none") == .nothing)
    }

    @Test("coverage between scopes")
    func coverage() throws {
        let narrow = try #require(Scope(text: "observations/SD-DN"))
        let wide = try #require(Scope(text: "observations/SD-*,situations"))
        #expect(narrow.isCovered(by: wide))
        #expect(!wide.isCovered(by: narrow))
        #expect(Scope.nothing.isCovered(by: narrow))
        #expect(wide.isCovered(by: .everything))
        #expect(!Scope.everything.isCovered(by: wide))
    }

    @Test("grants encode as pattern arrays and have a stable fingerprint that differs when a scope does")
    func grantsCodingAndFingerprint() throws {
        let grants = AccessGrants(read: try #require(Scope(text: "observations/SD-*")), write: .nothing)
        let json = String(decoding: try JSONEncoder().encode(grants), as: UTF8.self)
        #expect(json.contains(#""read":["observations\/SD-*"]"#))
        #expect(json.contains(#""write":[]"#))
        #expect(try JSONDecoder().decode(AccessGrants.self, from: Data(json.utf8)) == grants)
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(AccessGrants.self, from: Data(#"{"read":["../x"],"write":[]}"#.utf8))
        }
        #expect(grants.fingerprint.count == 16)
        #expect(AccessGrants.everything.fingerprint == "\(AccessGrants.everything.fingerprint)")
        #expect(grants.fingerprint != AccessGrants(read: grants.read, write: .everything).fingerprint)
        // The same scopes written differently have the same fingerprint.
        let respelled = AccessGrants(read: try #require(Scope(text: "observations/SD-*,observations/SD-DN")), write: .nothing)
        #expect(respelled.fingerprint == grants.fingerprint)
    }
}
