import FileSystem
import Foundation
import GRDB
import Records

/// Every run, its epochs, stages and trace, and the tuning studies, in one database: a SQLite
/// file (WAL mode, the embedded default) or a PostgreSQL server that a cluster's workers share.
/// The store only persists; it decides nothing.
public final class ResultsStore: Sendable {
    /// Where the store is: the SQLite file, or the PostgreSQL URL without its password.
    public let path: String
    /// The backend.
    public let database: any SQLDatabase

    /// Opens (creating if needed) the store at `location`, a SQLite file's path or a
    /// `postgresql://user[:password]@host[:port]/database` URL, and brings its schema up to date.
    public convenience init(location: String, forReading: Bool = false) throws {
        if Self.isPostgreSQL(location) {
            let database: PostgreSQLDatabase
            do { database = try PostgreSQLDatabase(url: location) } catch let error as SQLError {
                throw StoreError(path: PostgreSQLDatabase.redacted(location), problem: "cannot open the results store (\(error.message))")
            }
            try self.init(database: database)
        } else {
            try self.init(path: location, forReading: forReading)
        }
    }

    /// Whether a store location names a PostgreSQL server.
    public static func isPostgreSQL(_ location: String) -> Bool {
        location.hasPrefix("postgresql://") || location.hasPrefix("postgres://")
    }

    /// Opens (creating if needed) the SQLite store at `path` and brings its schema up to date.
    /// `forReading`: an existing store that cannot be written (a read-only mount or copy) opens
    /// read-only, its schema as it is, to be listed, exported and reported (a command that
    /// writes opens without it, so that it fails here, before any training).
    public convenience init(path: String, forReading: Bool = false) throws {
        let folder = PathComponents.folder(of: path)
        if folder != "." { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
        let database: SQLiteDatabase
        do {
            // Several worker processes share one store: wait for the write lock instead of failing.
            if forReading, FileManager.default.fileExists(atPath: path), Self.whyNotWritable(path) != nil {
                database = try SQLiteDatabase(readOnlyPath: path)
            } else {
                database = try SQLiteDatabase(path: path)
            }
            try database.pool.read { db in
                try Self.checkIsBPFreeStore(db, path: path)
                // Damaged pages are found now, before a run trains for hours and cannot be stored.
                let problems = try String.fetchAll(db, sql: "PRAGMA quick_check").filter { $0 != "ok" }
                if !problems.isEmpty {
                    throw StoreError(path: path, problem: "the results store is damaged (\(problems.prefix(3).joined(separator: "; "))); "
                                     + "restore a copy or use another --store")
                }
            }
            if !database.isReadOnly { try Self.migrate(database.pool) }
        } catch let error as DatabaseError {
            let why = [error.message ?? "\(error.resultCode)", Self.whyNotWritable(path)].compactMap { $0 }.joined(separator: "; ")
            throw StoreError(path: path, problem: "cannot open the results store (\(why))")
        }
        try self.init(database: database, prepared: true)
    }

    /// Why a store file (or the folder for its journal files) cannot be written, if it cannot.
    static func whyNotWritable(_ path: String) -> String? {
        let folder = PathComponents.folder(of: path)
        for target in [path, folder] where FileManager.default.fileExists(atPath: target) {
            if access(target, W_OK) != 0 { return "\(target): \(String(cString: strerror(errno)))" }
        }
        return nil
    }

    /// Applies the pending migrations. Processes that open a new store at the same moment race
    /// to create it (GRDB reads the applied migrations before it takes the write lock, so a
    /// loser fails with "table … already exists" after the winner committed): each migration
    /// is its own transaction, so the loser's rolled back and it simply tries again.
    static func migrate(_ pool: any DatabaseWriter) throws {
        var attempt = 0
        while true {
            do { return try migrator.migrate(pool) } catch is DatabaseError where attempt < 20 {
                attempt += 1
                Thread.sleep(forTimeInterval: 0.05 * Double(attempt))
            }
        }
    }

    /// A store over an open database (PostgreSQL: its schema is created or checked here).
    init(database: any SQLDatabase, prepared: Bool = false) throws {
        self.database = database
        path = database.location
        if !prepared, let postgres = database as? PostgreSQLDatabase {
            do { try Self.preparePostgreSQLSchema(postgres) } catch let error as StoreError {
                throw StoreError(path: path, problem: "cannot prepare the results store: \(error.problem)")
            }
        }
    }

    /// The schema versions applied, oldest first.
    public func appliedMigrations() throws -> [String] {
        try database.read { db in
            switch db.dialect {
            case .sqlite: try db.rows("SELECT identifier FROM grdb_migrations ORDER BY rowid", []).compactMap { $0.text("identifier") }
            case .postgresql: try db.rows("SELECT identifier FROM bpfree_schema ORDER BY position", []).compactMap { $0.text("identifier") }
            }
        }
    }

    /// The journal mode (WAL for a SQLite store opened through this type).
    public func journalMode() throws -> String {
        try database.read { try $0.row("PRAGMA journal_mode")?.text("journal_mode") ?? "" }
    }

    /// Stores a run with its epochs, stages and trace in one transaction; returns its id.
    @discardableResult
    public func insert(_ run: StoredRun) throws -> Int64 {
        try database.write { db in try Self.insert(run, db) }
    }

    static func insert(_ run: StoredRun, _ db: any SQLSession) throws -> Int64 {
        let r = run.record
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let hyperparameters = String(decoding: try encoder.encode(r.hyperparameters), as: UTF8.self)
        let columns = runColumns.filter(\.stored)
        let arguments: [any SQLArgument] = columns.map { $0.value(r) }
            + [hyperparameters, String(decoding: try r.jsonData(pretty: false), as: UTF8.self)]
        let id = try db.insert("""
            INSERT INTO run (\(columns.map(\.name).joined(separator: ", ")), hyperparameters, record)
            VALUES (\(Array(repeating: "?", count: arguments.count).joined(separator: ", ")))
            """, arguments, returning: "id")
        for e in r.epochs {
            try db.execute(DetailTable.epoch.insertSQL,
                           [id, e.stage, e.epoch, e.trainLoss, e.validationLoss, e.validationAccuracy, e.seconds, e.validationSeconds])
        }
        for (position, s) in r.stages.enumerated() {
            try db.execute(DetailTable.stage.insertSQL, [id, position, s.name, s.epochs, s.bestEpoch, s.bestValidationLoss])
        }
        if !run.traceRows.isEmpty {
            let indices = TraceColumn.names.map { run.traceColumns.firstIndex(of: $0) }
            let sql = "INSERT INTO trace (run_id, \(TraceColumn.names.joined(separator: ", "))) VALUES (?\(String(repeating: ", ?", count: TraceColumn.names.count)))"
            for row in run.traceRows {
                try db.execute(sql, [id] + indices.map { index in index.flatMap { row[$0] } })
            }
        }
        return id
    }

    /// Every run, oldest first (trace included).
    public func runs() throws -> [StoredRun] {
        try runs(where: "1 = 1", arguments: [], withTrace: true)
    }

    /// The runs matching an SQL condition, oldest first, read back from their records.
    func runs(where condition: String, arguments: [any SQLArgument], withTrace: Bool) throws -> [StoredRun] {
        try database.read { db in
            try db.rows("SELECT id, record FROM run WHERE \(condition) ORDER BY id", arguments).map { row in
                let id = row.integer("id")!
                let record: RunRecord
                do { record = try RunRecord.decoded(from: Data((row.text("record") ?? "").utf8)) } catch {
                    throw StoreError(path: path, problem: "run \(id): its record cannot be read (\(error))")
                }
                let trace = !withTrace ? [] : try db.rows("SELECT * FROM trace WHERE run_id = ? ORDER BY \(db.insertionOrder)", [id]).map { r in
                    TraceColumn.names.map { r.real($0) }
                }
                return StoredRun(record, id: id, traceRows: trace)
            }
        }
    }
}

/// A problem with the results store; names the file (or the server, without its password).
public struct StoreError: Error, CustomStringConvertible, Equatable {
    public let path: String
    public let problem: String

    public init(path: String, problem: String) {
        self.path = path
        self.problem = problem
    }

    public var description: String { "\(path): \(problem)" }
}
