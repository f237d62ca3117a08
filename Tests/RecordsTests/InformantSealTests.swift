import Foundation
import SyncEngine
import Records
import Testing

/// The sealed informant reference: sealing and opening, what does not open, the record rule
/// that accepts the sealed form, and the hub's signed statement of the key.
@Suite("Informant seal")
struct InformantSealTests {
    static let observations = RecordKind.observation.collection
    static let id = DocumentID("0190c6a4-7f2b-7c3e-9a51-2d3e4f5a6b7c")!
    static let reference = "Imam Y., phone +249 555 0100"

    @Test func aSealedReferenceOpensWithTheKeyForItsDocument() throws {
        let key = InformantPrivateKey()
        let sealed = try InformantSeal.seal(Self.reference, to: key.publicKey, collection: Self.observations, id: Self.id)
        #expect(sealed.hasPrefix(InformantSeal.prefix))
        #expect(!sealed.contains("555"), "the reference is not in the sealed text")
        #expect(InformantSeal.isSealed(sealed))
        #expect(InformantSeal.keyID(of: sealed) == key.publicKey.keyID)
        #expect(try InformantSeal.open(sealed, with: key, collection: Self.observations, id: Self.id) == Self.reference)
        let again = try InformantSeal.seal(Self.reference, to: key.publicKey, collection: Self.observations, id: Self.id)
        #expect(again != sealed, "an ephemeral key per seal: two seals of one reference differ")
    }

    @Test func anotherKeyDoesNotOpenIt() throws {
        let key = InformantPrivateKey()
        let sealed = try InformantSeal.seal(Self.reference, to: key.publicKey, collection: Self.observations, id: Self.id)
        #expect(throws: InformantSealError(.wrongKey)) {
            try InformantSeal.open(sealed, with: InformantPrivateKey(), collection: Self.observations, id: Self.id)
        }
    }

    @Test(arguments: [10, 20, 60, 90])
    func aTamperedBoxDoesNotOpen(_ offset: Int) throws {
        let key = InformantPrivateKey()
        let sealed = try InformantSeal.seal(Self.reference, to: key.publicKey, collection: Self.observations, id: Self.id)
        var bytes = try #require(Data(base64Encoded: String(sealed.dropFirst(InformantSeal.prefix.count))))
        bytes[bytes.startIndex + offset] ^= 0x01
        let tampered = InformantSeal.prefix + bytes.base64EncodedString()
        #expect(throws: InformantSealError.self) {
            try InformantSeal.open(tampered, with: key, collection: Self.observations, id: Self.id)
        }
    }

    /// A sealed value copied into another record (another id or collection) does not open there.
    @Test func aReferenceCopiedToAnotherDocumentDoesNotOpen() throws {
        let key = InformantPrivateKey()
        let sealed = try InformantSeal.seal(Self.reference, to: key.publicKey, collection: Self.observations, id: Self.id)
        #expect(throws: InformantSealError(.doesNotOpen)) {
            try InformantSeal.open(sealed, with: key, collection: Self.observations, id: DocumentID("other-report")!)
        }
        #expect(throws: InformantSealError(.doesNotOpen)) {
            try InformantSeal.open(sealed, with: key, collection: CollectionName("notes")!, id: Self.id)
        }
    }

    @Test func lengthsAreBoundedAndHidden() throws {
        let key = InformantPrivateKey()
        let longest = String(repeating: "é", count: InformantSeal.maxCharacters)
        let sealed = try InformantSeal.seal(longest, to: key.publicKey, collection: Self.observations, id: Self.id)
        #expect(sealed.count <= InformantSeal.maxSealedLength)
        #expect(try InformantSeal.open(sealed, with: key, collection: Self.observations, id: Self.id) == longest)
        #expect(throws: InformantSealError(.tooLong)) {
            try InformantSeal.seal(longest + "x", to: key.publicKey, collection: Self.observations, id: Self.id)
        }
        let short = try InformantSeal.seal("A", to: key.publicKey, collection: Self.observations, id: Self.id)
        let other = try InformantSeal.seal("Abdel", to: key.publicKey, collection: Self.observations, id: Self.id)
        #expect(short.count == other.count, "references in one 32-byte size class seal to one length")
    }

    @Test func aKeyFileReadsBack() throws {
        let key = InformantPrivateKey()
        let read = try InformantPrivateKey(fileText: key.fileText)
        #expect(read.publicKey == key.publicKey)
        #expect(!String(describing: key).contains(key.rawRepresentation.base64EncodedString()))
        #expect(throws: InformantSealError(.badKey)) { try InformantPrivateKey(fileText: "not a key") }
    }

    /// The record rule: a sealed reference passes on every replica (only its shape is checked),
    /// a malformed one is refused without being shown, a reference in clear stays valid (history).
    @Test func observationsAcceptTheSealedForm() throws {
        let key = InformantPrivateKey()
        let sealed = try InformantSeal.seal(Self.reference, to: key.publicKey, collection: Self.observations, id: Self.id)
        let body = try RecordsFixtures.edited(RecordsFixtures.observation, "source_protection.informant_ref", .string(sealed))
        let record = try RecordCatalog.read(.observation, body: body)
        guard case .observation(let observation) = record else {
            Issue.record("not an observation")
            return
        }
        #expect(observation.sourceProtection?.hasInformantReference == true)
        #expect(observation.sourceProtection?.informantReferenceIsSealed == true)

        let clear = try RecordCatalog.read(.observation, body: Data(RecordsFixtures.observation.utf8))
        if case .observation(let old) = clear { #expect(old.sourceProtection?.informantReferenceIsSealed == false) }

        let broken = try RecordsFixtures.edited(
            RecordsFixtures.observation, "source_protection.informant_ref", .string(InformantSeal.prefix + "AAAA"))
        let issues = RecordCatalog.issues(collection: Self.observations, body: broken)
        #expect(issues.map(\.path) == ["source_protection.informant_ref"])
        #expect(issues.allSatisfy { !$0.description.contains("AAAA") }, "a sealed value is never quoted")
    }

    @Test func theKeyStatementIsSignedByTheHub() throws {
        let hubKey = DeviceKey()
        let key = InformantPrivateKey()
        let statement = try InformantKeyStatement(
            hub: ReplicaID.random(), publicKey: key.publicKey, issuedAt: 1_700_000_000_000, signedWith: hubKey)
        #expect(statement.isSigned(by: hubKey.publicKey))
        #expect(!statement.isSigned(by: DeviceKey().publicKey))
        let decoded = try JSONDecoder().decode(InformantKeyStatement.self, from: JSONEncoder().encode(statement))
        #expect(decoded == statement && decoded.isSigned(by: hubKey.publicKey))
        var forged = statement
        forged.publicKey = InformantPrivateKey().publicKey
        #expect(!forged.isSigned(by: hubKey.publicKey), "a relay cannot swap in a key of its own")
    }
}
