import Foundation
import Results

/// The results-store backends a conformance test runs on: SQLite always, PostgreSQL when
/// `BPFREE_TEST_POSTGRES` names a server (`.ci/run` starts one and sets it), each store in a
/// schema of its own so that tests never see each other's studies.
public enum StoreBackend: String, CaseIterable, Sendable, CustomStringConvertible {
    case sqlite, postgresql

    /// The backends available here.
    public static var available: [StoreBackend] {
        ProcessInfo.processInfo.environment["BPFREE_TEST_POSTGRES"] == nil ? [.sqlite] : [.sqlite, .postgresql]
    }

    public var description: String { rawValue }

    /// A fresh store's location: a new SQLite file, or a new PostgreSQL schema's URL.
    public func freshLocation() throws -> String {
        switch self {
        case .sqlite:
            return IDXFiles.temporaryFolder() + "/store.sqlite"
        case .postgresql:
            let server = ProcessInfo.processInfo.environment["BPFREE_TEST_POSTGRES"]!
            let schema = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
            let admin = try PostgreSQLDatabase(url: server, reconnectFor: 5)
            try admin.write { try $0.execute("CREATE SCHEMA \(schema)", []) }
            return server + (server.contains("?") ? "&" : "?") + "options=-csearch_path%3D" + schema
        }
    }

    /// A fresh, empty store.
    public func freshStore() throws -> ResultsStore {
        try ResultsStore(location: try freshLocation())
    }
}
