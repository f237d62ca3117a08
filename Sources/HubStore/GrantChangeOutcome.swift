public import SyncEngine

/// What became of a change of a device's grants.
public enum GrantChangeOutcome: Sendable, Hashable {
    /// The device's grants were `previous` and are now the new ones.
    case changed(DeviceRecord, previous: AccessGrants)
    /// No active device has that name or replica id.
    case notFound
    /// Several active devices have that name: name one by replica id.
    case ambiguous([DeviceRecord])
}
