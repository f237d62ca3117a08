import Foundation
@testable import HubConsole
import HubStore
import Testing
import TestSupport

/// The console's QR encoder (byte mode, level M, versions 1 to 10) against symbols made by an
/// independent encoder, and, where a decoder is at hand, decoded back.
@Suite("Console QR codes")
struct ConsoleQRCodeTests {
    /// "01234567" in byte mode at level M with mask 2, as the `qrcode` package for Python draws it.
    static let version1: [String] = [
        "111111100000001111111", "100000100101101000001", "101110101010101011101", "101110101000001011101",
        "101110101011101011101", "100000101000101000001", "111111101010101111111", "000000001111100000000",
        "101111100010101111100", "110010010010110010111", "010101110111011101100", "010110000110000110100",
        "010111110001000001000", "000000001001111010111", "111111100010101100000", "100000101001111000100",
        "101110101000100001001", "101110101100100010100", "101110101111010101000", "100000100010000100100",
        "111111101111010001010",
    ]

    /// Text, the mask forced, the version expected, and the SHA-256 of the symbol's rows ("1" for
    /// dark, joined by newlines) as the `qrcode` package for Python (8.2) draws it.
    static let symbols: [(text: String, mask: Int, version: Int, sha256: String)] = [
        ("01234567", 2, 1, "f3e5362ba1db1944df066aa79ed538585eed00762d2c42ade85e0a9f6e03cb5f"),
        ("7KQX-M3VA-9TRP-2HCZ", 5, 2, "bf3b3c2141e3adb7fda317bc11f7a53bfcc7a574af5bff4a2affff349b2b26e8"),
        (String(repeating: "x", count: 100), 0, 6, "898a791db8daf87950e6fd89cebf33096e6b40e0b49b39bdd015fdd3c07d3ec9"),
        (String(repeating: "Vigil ", count: 20) + "observations/SD-DN", 6, 8, "eb63ba67fadf01de977e0b78e951226193041675af85878944e6855d92417a51"),
        (String((0..<200).map { Character(UnicodeScalar(UInt8(65 + $0 % 26))) }), 3, 10, "89aa538e131abb7f257cf52c910aeb940401fcd19960b94f180989409f5d0ce0"),
        ("é€", 7, 1, "ebfd31f9b819fb7bc12edaa745b26892d8f76aad87b3d3a9371acaa6292f10e1"),
    ]

    static func rows(_ code: QRCode) -> [String] {
        (0..<code.size).map { y in String((0..<code.size).map { x in code.isDark(x: x, y: y) ? "1" : "0" }) }
    }

    @Test func version1MatchesModuleForModule() throws {
        let code = try #require(QRCode(Array("01234567".utf8), mask: 2))
        #expect(code.version == 1 && code.size == 21)
        #expect(Self.rows(code) == Self.version1)
    }

    /// One, two and several blocks, two groups of blocks, version information, a 16-bit count.
    @Test(arguments: symbols) func symbolsMatchAnIndependentEncoder(text: String, mask: Int, version: Int, sha256: String) throws {
        let code = try #require(QRCode(Array(text.utf8), mask: mask))
        #expect(code.version == version && code.mask == mask)
        let digest = ConsoleTokens.hash(Self.rows(code).joined(separator: "\n")).map { String(format: "%02x", $0) }.joined()
        #expect(digest == sha256)
    }

    /// Capacities at level M (ISO/IEC 18004 table 7): the smallest version that holds the bytes,
    /// and nothing beyond version 10.
    @Test func theSmallestVersionThatHoldsTheBytesIsChosen() {
        let capacities = [14, 26, 42, 62, 84, 106, 122, 152, 180, 213]
        for (index, capacity) in capacities.enumerated() {
            #expect(QRCode.capacity(version: index + 1) == capacity)
            #expect(QRCode([UInt8](repeating: 0x41, count: capacity))?.version == index + 1)
            #expect(QRCode([UInt8](repeating: 0x41, count: capacity + 1))?.version == (index + 1 < 10 ? index + 2 : nil))
        }
        #expect(QRCode([])?.version == 1)
    }

    /// Each data and error correction codeword fills exactly the modules left by the function
    /// patterns, less the remainder bits (7 in versions 2 to 6, none in 1 and 7 to 10).
    @Test func codewordsFillTheSymbol() {
        for version in 1...10 {
            var matrix = QRCode.Matrix(version: version)
            matrix.drawFunctionPatterns()
            let free = matrix.isFunction.filter { !$0 }.count
            let layout = QRCode.blocks[version - 1]
            let total = QRCode.dataCodewords(version: version) + (layout.count1 + layout.count2) * layout.ec
            #expect(free - total * 8 == ((2...6).contains(version) ? 7 : 0), "version \(version)")
        }
    }

    /// The SVG: one path of the dark modules in a frame with a four-module quiet zone, no script,
    /// no style attribute (the console's policy allows neither).
    @Test func theSVGDrawsTheDarkModulesWithAQuietZone() throws {
        let code = try #require(QRCode(Array("01234567".utf8), mask: 2))
        let svg = code.svg(label: "Code <1>").text
        #expect(svg.hasPrefix("<svg ") && svg.contains("viewBox=\"0 0 29 29\"") && svg.contains("aria-label=\"Code &lt;1&gt;\""))
        #expect(!svg.contains("style") && !svg.contains("script"))
        let runs = Self.version1.map { row in row.split(separator: "0").filter { !$0.isEmpty }.count }.reduce(0, +)
        let path = try #require(ConsoleBrowser.Answer.value(of: "d", in: svg.replacingOccurrences(of: "d=\"", with: "name=\"d\" value=\"")))
        #expect(path.components(separatedBy: "z").count - 1 == runs, "each run of dark modules is one rectangle")
        #expect(path.hasPrefix("M4,4h7v1h-7z"), "the top-left finder's first row")
    }

    /// The fleet page shows a new enrollment code as text and as the QR code of that text.
    @Test func theEnrollmentCodeIsShownAsAQRCode() async throws {
        try await ConsoleHub.with { hub in
            let browser = try await ConsoleSecurityTests.loggedIn(hub, "root", role: .admin)
            let fleet = try await browser.get("/console/fleet")
            let answer = try await browser.post(
                "/console/fleet/enroll", [("csrf", fleet.csrf ?? ""), ("name", "new-phone"), ("read", "*"), ("write", "none")])
            #expect(answer.status == 200)
            let start = try #require(answer.body.range(of: "<code id=\"enrollment-code\">"))
            let code = String(answer.body[start.upperBound...].prefix { $0 != "<" })
            let symbol = try #require(QRCode(Array(code.utf8)))
            #expect(symbol.version == 2, "a 19-character code")
            #expect(answer.body.contains(symbol.svg(label: "QR code of the enrollment code \(code)").text))
        }
    }

    /// Random texts of every length class, decoded back by zbar (when `VIGIL_QR_DECODER` names a
    /// Python with pyzbar and Pillow; `scripts/qr-decode-check` sets one up).
    @Test(.enabled(if: ProcessInfo.processInfo.environment["VIGIL_QR_DECODER"] != nil))
    func randomTextsDecodeBack() throws {
        let python = try #require(ProcessInfo.processInfo.environment["VIGIL_QR_DECODER"])
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-qr-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var generator = SeededGenerator(seed: 15)
        let alphabet = Array("ABCDEFGHJKMNPQRSTVWXYZ0123456789abcdefghijklmnopqrstuvwxyz-_/:.?=&")
        var texts: [String] = []
        for length in [1, 14, 19, 26, 42, 43, 62, 84, 85, 106, 122, 152, 153, 180, 213] {
            texts.append(String((0..<length).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] }))
        }
        var paths: [String] = []
        for (index, text) in texts.enumerated() {
            let code = try #require(QRCode(Array(text.utf8)))
            let path = folder.appendingPathComponent("\(index).pbm").path
            try Self.pbm(code, scale: 4).write(toFile: path, atomically: true, encoding: .ascii)
            paths.append(path)
        }
        let script = """
            import sys
            from PIL import Image
            from pyzbar.pyzbar import decode, ZBarSymbol
            for path in sys.argv[1:]:
                found = decode(Image.open(path).convert("L"), symbols=[ZBarSymbol.QRCODE])
                print(found[0].data.decode("utf-8") if found else "-")
            """
        let output = try Self.run(python, ["-c", script] + paths)
        #expect(output.split(separator: "\n").map(String.init) == texts)
    }

    /// The symbol as a plain PBM image, `scale` pixels a module, with the four-module quiet zone.
    static func pbm(_ code: QRCode, scale: Int) -> String {
        let side = (code.size + 8) * scale
        var lines = ["P1", "\(side) \(side)"]
        for y in 0..<side {
            let row = (0..<side).map { x -> String in
                let (mx, my) = (x / scale - 4, y / scale - 4)
                let dark = (0..<code.size).contains(mx) && (0..<code.size).contains(my) && code.isDark(x: mx, y: my)
                return dark ? "1" : "0"
            }
            lines.append(row.joined(separator: " "))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func run(_ executable: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}
