import Foundation
import HTTPTypes
import Hummingbird

extension HubConsole {
    /// The form asking an operator with a second factor for the code of their authenticator app,
    /// after the password was right; with a fresh CSRF token in a cookie and in the form.
    func codePage(_ pending: String, problem: String?, status: HTTPResponse.Status = .ok) -> Response {
        formPage(
            "Your code", action: "/console/login/code", problem: problem, status: status,
            """
            <input type="hidden" name="pending" value="\(pending)">
            <label>The 6-digit code your authenticator app shows for Vigil <input name="code" inputmode="numeric" \
            autocomplete="one-time-code" required pattern="[0-9 ]{6,7}" maxlength="7" autofocus></label>
            <button type="submit">Log in</button>
            """)
    }

    /// `POST /console/login/code`: the second step of a login with a second factor. The code
    /// counts against the same limits as a password; it is accepted once (the hub keeps the last
    /// step used); a wrong one is audited, and after a few the login starts over.
    func confirmCode(_ request: Request, address: String) async throws -> Response {
        let form = try await Self.form(of: request)
        try checkFormToken(request, form)
        let token = form["pending"] ?? ""
        let operators = self.operators
        guard ConsoleTokens.isWellFormed(token), let pending = pendingLogins.find(token, address: address, now: operators.now()) else {
            return loginPage("That login took too long, or was never started; log in again.", status: .unauthorized)
        }
        try admitLoginAttempt(name: pending.name, address: address)
        let codes = wrongCodeLimiter.check(pending.name)
        guard codes.admitted else {
            throw ConsoleRefusal(
                .tooManyRequests, "Too many wrong codes",
                "Too many wrong codes for this operator; try again in \(codes.retryAfter) s. If they were not yours, change the password.",
                retryAfter: codes.retryAfter)
        }
        let code = String((form["code"] ?? "").prefix(16))
        let now = operators.now()
        var accepted = false
        if let secret = try await operators.operatorTOTPSecret(name: pending.name),
            let step = TOTP.matchingStep(of: code, secret: secret, at: now)
        {
            accepted = try await operators.useOperatorTOTPStep(name: pending.name, step: step)
        }
        guard accepted else {
            try await operators.auditFailedLogin(name: pending.name, address: address, factor: "code")
            _ = wrongCodeLimiter.admit(pending.name)
            guard pendingLogins.fail(token) else { return loginPage("Too many wrong codes; log in again.", status: .unauthorized) }
            return codePage(token, problem: "Wrong code, or one used already; wait for the next code.", status: .unauthorized)
        }
        pendingLogins.finish(token)
        return try await startSession(name: pending.name, address: address, informantKey: pending.informantKey)
    }
}
