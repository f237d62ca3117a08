import SyncEngine

extension HubExchange {
    /// Refuses, before anything of it is applied, a request that breaks a structural bound:
    /// a counter above the limit, too many vector entries, a body nested too deep.
    func checkMessageLimits(_ request: SyncRequest) throws {
        guard let violation = configuration.limits.message.violation(in: request) else { return }
        let code: SyncHubError.Code = violation.kind == .vectorEntries ? .tooLarge : .malformedRequest
        throw SyncHubError(code, violation.message)
    }
}
