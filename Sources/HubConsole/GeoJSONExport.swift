import Foundation
import Hummingbird
import NIOCore
import SyncEngine
import Records

/// The filtered observations as GeoJSON (RFC 7946), streamed a step at a time like the CSV export.
extension HubConsole {
    /// Documents read from the store per step of an export.
    static let exportStep = 200

    /// Reads the observations `filter` accepts, newest first, `exportStep` documents at a time, and
    /// hands each step's entries to `body` (the entries are ``ObservationExport/Entry`` values, built
    /// from ``Observation``, which never holds the sealed informant reference).
    func eachObservationStep(
        _ filter: ObservationFilter, _ body: ([ObservationExport.Entry]) async throws -> Void
    ) async throws {
        let store = try documentPages()
        var cursor: String?
        repeat {
            let page = try await store.documents(
                in: RecordKind.observation.collection, partition: filter.region, limit: Self.exportStep, after: cursor)
            let entries = page.documents.compactMap { document -> ObservationExport.Entry? in
                guard let body = document.siblings.first?.body, let record = Self.observation(body), filter.accepts(record) else { return nil }
                return ObservationExport.Entry(id: document.key.id.rawValue, observation: record)
            }
            try await body(entries)
            cursor = page.nextCursor
        } while cursor != nil
    }

    /// `GET /console/observations.geojson?…`: a FeatureCollection with one Feature per filtered
    /// observation (a Point `[longitude, latitude]`, or a null geometry without coordinates) and the
    /// columns of the CSV export as properties; written feature by feature, never whole in memory.
    func observationsGeoJSON(_ request: Request) throws -> Response {
        let filter = try ObservationFilter(request.uri.queryParameters)
        _ = try documentPages()  // refused before the answer starts where no document states are kept
        let console = self
        let body = ResponseBody { writer in
            try await writer.write(ByteBuffer(string: #"{"type":"FeatureCollection","features":["#))
            var first = true
            try await console.eachObservationStep(filter) { entries in
                guard !entries.isEmpty else { return }
                var text = ""
                for entry in entries {
                    text += first ? "\n" : ",\n"
                    first = false
                    text += ObservationExport.feature(entry).canonicalText
                }
                try await writer.write(ByteBuffer(string: text))
            }
            try await writer.write(ByteBuffer(string: "\n]}\n"))
            try await writer.finish(nil)
        }
        return Response(
            status: .ok,
            headers: [.contentType: "application/geo+json", .contentDisposition: "attachment; filename=\"observations.geojson\""],
            body: body)
    }
}
