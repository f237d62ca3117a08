import SyncEngine

extension HubExchange {
    /// Refuses, before anything of it is applied, a request that breaks a structural bound:
    /// a counter above the limit, too many vector entries or verification reports, a body nested too deep.
    func checkMessageLimits(_ request: SyncRequest) throws {
        guard let violation = configuration.limits.message.violation(in: request) else { return }
        let tooLarge: Set<MessageLimits.Violation.Kind> = [.vectorEntries, .verificationReports, .pushOrigins]
        let code: SyncHubError.Code = tooLarge.contains(violation.kind) ? .tooLarge : .malformedRequest
        throw SyncHubError(code, violation.message)
    }
}
