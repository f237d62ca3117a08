import Foundation
import SyncEngine
import Testing

@Suite("JSONBody")
struct JSONBodyTests {
    @Test(arguments: [#"{}"#, #"{"a":1}"#, #"  {"nested":{"x":[1,2,null]},"t":"é"}  "#])
    func acceptsObjects(_ text: String) throws {
        try JSONBody.validate(Data(text.utf8))
    }

    @Test(arguments: ["", "{", #"{"a":}"#, "[1,2]", "3", #""text""#, "null", "true", #"{"a":1}{"b":2}"#, "\u{FF}"])
    func rejectsNonObjects(_ text: String) {
        let error = #expect(throws: SyncEngineError.self) { try JSONBody.validate(Data(text.utf8)) }
        #expect(error?.code == .invalidBody)
    }

    @Test func rejectsOversizedBodies() throws {
        let body = Data(#"{"a":"\#(String(repeating: "x", count: 100))"}"#.utf8)
        try JSONBody.validate(body, maximumSize: body.count)
        let error = #expect(throws: SyncEngineError.self) { try JSONBody.validate(body, maximumSize: body.count - 1) }
        #expect(error?.code == .invalidBody)
    }

    @Test func rejectsBodiesNestedDeeperThanTheLimit() throws {
        func nested(_ depth: Int) -> Data {
            Data((#"{"a":"# + String(repeating: "[", count: depth - 1) + String(repeating: "]", count: depth - 1) + "}").utf8)
        }
        try JSONBody.validate(nested(JSONBody.defaultMaximumDepth))
        let error = #expect(throws: SyncEngineError.self) { try JSONBody.validate(nested(JSONBody.defaultMaximumDepth + 1)) }
        #expect(error?.message.contains("deeper than \(JSONBody.defaultMaximumDepth) levels") == true)
        #expect(throws: SyncEngineError.self) { try JSONBody.validate(nested(10_000)) }
    }

    @Test func differingFieldsNamesTopLevelDifferences() {
        let left = Data(#"{"title":"flood","severity":3,"tags":["a","b"],"where":{"lat":1,"lon":2}}"#.utf8)
        let right = Data(#"{"severity":3,"title":"fire","tags":["a","b"],"where":{"lon":2,"lat":1},"extra":true}"#.utf8)
        #expect(JSONBody.differingFields(among: [left, right]) == ["extra", "title"])
        #expect(JSONBody.differingFields(among: [left, left]) == [])
        #expect(JSONBody.differingFields(among: [left]) == [])
    }

    @Test func aTombstoneDiffersInEveryField() {
        let body = Data(#"{"b":1,"a":2}"#.utf8)
        #expect(JSONBody.differingFields(among: [body, nil]) == ["a", "b"])
    }

    @Test func nullIsNotAbsent() {
        let withNull = Data(#"{"a":null}"#.utf8)
        let without = Data(#"{}"#.utf8)
        #expect(JSONBody.differingFields(among: [withNull, without]) == ["a"])
    }

    @Test func numbersAndBooleansAreTold() {
        #expect(JSONBody.differingFields(among: [Data(#"{"a":1}"#.utf8), Data(#"{"a":true}"#.utf8)]) == ["a"])
        #expect(JSONBody.differingFields(among: [Data(#"{"a":1}"#.utf8), Data(#"{"a":2}"#.utf8)]) == ["a"])
    }
}
