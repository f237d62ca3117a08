import GRDB
public import HubStore
public import ReplicaStore
public import SyncEngine

extension ReplicaStore {
    /// A page of the fleet after `position`: up to `limit` devices (at most
    /// ``FleetPage/maximumSize``) and what the hub set aside of their pushes.
    public func fleetPage(after position: FleetPage.Position?, limit: Int) throws -> FleetPage {
        let (devices, more) = try devices(after: position, limit: min(limit, FleetPage.maximumSize))
        return FleetPage(devices: devices, more: more, setAside: try setAsideCounts(of: devices))
    }

    /// What the hub set aside of the pushes of each of `devices` (under any of their replica
    /// ids), by enrolled replica id; a device with nothing set aside is left out. Reads only
    /// set-aside rows and quarantined ones (both indexed), never the whole history. (A rejected
    /// version is one set aside for what it says, ``SetAsideReason/Code/isRefusalOfContent``;
    /// every other set-aside version and every foreign quarantine row the device pushed is
    /// quarantined.)
    public func setAsideCounts(of devices: [DeviceRecord]) throws -> [ReplicaID: SetAsideCounts] {
        let owner = Dictionary(
            devices.flatMap { device in ([device.replicaID] + device.incarnations).map { ($0.hex, device.replicaID) } },
            uniquingKeysWith: { first, _ in first })
        guard !owner.isEmpty else { return [:] }
        let pushers = Array(owner.keys)
        let marks = Array(repeating: "?", count: pushers.count).joined(separator: ", ")
        let refusals = SetAsideReason.Code.allCases.filter(\.isRefusalOfContent).map(\.rawValue)
        let rejected = "set_aside_code IN (\(Array(repeating: "?", count: refusals.count).joined(separator: ", ")))"
        return try read { db in
            var counts: [ReplicaID: SetAsideCounts] = [:]
            let setAside = try Row.fetchAll(
                db,
                sql: """
                    SELECT received_from, count(*), sum(\(rejected)) FROM versions
                    WHERE set_aside_reason IS NOT NULL AND received_from IN (\(marks)) GROUP BY received_from
                    """,
                arguments: StatementArguments(refusals + pushers))
            for row in setAside {
                guard let device = owner[row[0]] else { continue }
                let all: Int = row[1]
                let refused: Int = row[2]
                counts[device, default: SetAsideCounts()].rejected += refused
                counts[device, default: SetAsideCounts()].quarantined += all - refused
            }
            let foreign = try Row.fetchAll(
                db, sql: "SELECT pushed_by, count(*) FROM foreign_quarantine WHERE pushed_by IN (\(marks)) GROUP BY pushed_by",
                arguments: StatementArguments(pushers))
            for row in foreign {
                guard let device = owner[row[0]] else { continue }
                counts[device, default: SetAsideCounts()].quarantined += row[1] as Int
            }
            return counts
        }
    }
}
