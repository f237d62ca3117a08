import Foundation
@testable import HubConsole
import SyncEngine
import Testing

/// The console's pure parts: escaping, the diff and merge of siblings, the login limiter, forms.
@Suite("Console units")
struct ConsoleUnitTests {
    @Test func interpolatedTextIsEscapedAndMarkupIsNot() {
        let name = #"<b onclick="x">'&'</b>"#
        let inner: HTML = "<em>\(name)</em>"
        let page: HTML = "<p>\(inner)</p>"
        #expect(page.text == "<p><em>&lt;b onclick=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/b&gt;</em></p>")
        #expect(HTML.link("/console/conflicts", [("collection", "a b&c"), ("after", nil)]) == "/console/conflicts?collection=a%20b%26c")
    }

    @Test func theDiffMarksDifferingFieldsAndTheMergeTakesEachChosenField() throws {
        let bodies = [
            Data(#"{"title":"bridge","level":"low","road":"open","_resolution":{"reason":"old"}}"#.utf8),
            Data(#"{"title":"bridge","level":"high","extra":1}"#.utf8), nil,
        ]
        let diff = try #require(ConflictDiff(bodies: bodies, collection: CollectionName("notes")!))
        #expect(diff.fields.map(\.name) == ["extra", "level", "road", "title"], "the resolution field is left out")
        #expect(diff.fields.map(\.differs) == [true, true, true, true], "a deletion lacks every field")
        #expect(diff.deleted == [false, false, true])
        let merged = try #require(diff.merged(choices: ["level": 1, "road": 0, "extra": 0, "title": 0]))
        let object = try #require(try JSONSerialization.jsonObject(with: merged) as? [String: Any])
        #expect(object["level"] as? String == "high" && object["road"] as? String == "open" && object["extra"] == nil)
        #expect(diff.merged(choices: ["level": 2]) == nil, "a field cannot come from the deletion")
        #expect(ConflictDiff(bodies: [Data("[1]".utf8)], collection: CollectionName("notes")!) == nil)
    }

    @Test func theLimiterRefusesBeyondItsWindowAndForgetsAfterIt() {
        let limiter = AttemptLimiter(maxAttempts: 2, window: .seconds(60))
        let start = ContinuousClock.now
        #expect(limiter.admit("a", now: start).admitted)
        #expect(limiter.admit("a", now: start + .seconds(1)).admitted)
        let refused = limiter.admit("a", now: start + .seconds(2))
        #expect(!refused.admitted && refused.retryAfter >= 58)
        #expect(limiter.admit("b", now: start + .seconds(2)).admitted, "keys are counted apart")
        #expect(limiter.admit("a", now: start + .seconds(61)).admitted)
    }

    @Test func formsAreDecodedAndBounded() {
        let form = ConsoleForm("a=1&b=x+y%26z&a=2&c&%ZZ=bad")
        #expect(form["a"] == "1" && form["b"] == "x y&z" && form["c"] == "")
        let many = ConsoleForm((0..<2_000).map { "f\($0)=1" }.joined(separator: "&"))
        #expect(many.values.count == ConsoleForm.maxFields)
        #expect(ConsoleTokens.isWellFormed(ConsoleTokens.random()))
        #expect(!ConsoleTokens.isWellFormed("short") && !ConsoleTokens.isWellFormed(String(repeating: "a", count: 42) + "/"))
    }
}
