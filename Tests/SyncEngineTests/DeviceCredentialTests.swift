import Foundation
import SyncEngine
import Testing

@Suite("Device credentials")
struct DeviceCredentialTests {
    /// Replays CI's encrypted run of HubAddressTests (seed-free: 1 run in 64): the stranger hub gave
    /// a credential beginning with '-', and `fieldcli sync --token -Ab…` stopped at the argument
    /// parser instead of reaching the hub. 2,000 draws hold one beginning with '-' with
    /// probability 1 - (63/64)^2000, all but certain, before the fix.
    @Test func aCredentialNeverBeginsWithADash() {
        let credentials = (0..<2_000).map { _ in DeviceCredential.random().text }
        #expect(credentials.allSatisfy { !$0.hasPrefix("-") })
        #expect(credentials.allSatisfy { $0.utf8.count == 43 })
        #expect(Set(credentials).count == credentials.count)
    }
}
