import Foundation
import GRDB

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
    public convenience init(location: String) throws {
        if Self.isPostgreSQL(location) {
            let database: PostgreSQLDatabase
            do { database = try PostgreSQLDatabase(url: location) } catch let error as SQLError {
                throw StoreError(path: PostgreSQLDatabase.redacted(location), problem: "cannot open the results store (\(error.message))")
            }
            try self.init(database: database)
        } else {
            try self.init(path: location)
        }
    }

    /// Whether a store location names a PostgreSQL server.
    public static func isPostgreSQL(_ location: String) -> Bool {
        location.hasPrefix("postgresql://") || location.hasPrefix("postgres://")
    }

    /// Opens (creating if needed) the SQLite store at `path` and brings its schema up to date.
    public convenience init(path: String) throws {
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
        let database: SQLiteDatabase
        do {
            // Several worker processes share one store: wait for the write lock instead of failing.
            database = try SQLiteDatabase(path: path)
            try database.pool.read { db in try Self.checkIsBPFreeStore(db, path: path) }
            try Self.migrate(database.pool)
        } catch let error as DatabaseError {
            throw StoreError(path: path, problem: "cannot open the results store (\(error.message ?? "\(error.resultCode)"))")
        }
        try self.init(database: database, prepared: true)
    }

    /// Applies the pending migrations. Processes that open a new store at the same moment race
    /// to create it (GRDB reads the applied migrations before it takes the write lock, so a
    /// loser fails with "table … already exists" after the winner committed): each migration
    /// is its own transaction, so the loser's rolled back and it simply tries again.
    static func migrate(_ pool: DatabasePool) throws {
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
            do { try Self.preparePostgreSQLSchema(postgres) } catch let error as SQLError {
                throw StoreError(path: path, problem: "cannot prepare the results store (\(error.message))")
            }
        }
    }

    /// The trace columns the store keeps (the first is the time).
    public static let traceColumns = ["time_s", "cpu_utilization_percent", "cpu_clock_mhz", "rss_bytes", "power_watts",
                                      "gpu_utilization_percent", "gpu_sm_clock_mhz", "gpu_memory_bytes"]

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
        let id = try db.insert("""
            INSERT INTO run (started_at, algorithm, dataset, architecture, seed, status, failure_reason, test_accuracy,
              effective_epochs, train_seconds, samples_per_second, train_flops, energy_joules, energy_source, co2e_grams,
              peak_rss_bytes, threads, hyperparameters, record, role, study, trial_number, comparison)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [run.startedAt, run.algorithm, run.dataset, run.architecture, run.seed, run.status,
                  run.failureReason, run.testAccuracy, run.effectiveEpochs, run.trainSeconds,
                  run.samplesPerSecond, run.trainFlops, run.energyJoules, run.energySource, run.co2eGrams,
                  run.peakRSSBytes, run.threads, run.hyperparametersJSON, run.recordJSON,
                  run.role, run.study, run.trialNumber, run.comparison], returning: "id")
        for e in run.epochs {
            try db.execute("""
                INSERT INTO epoch (run_id, stage, epoch, train_loss, val_loss, val_accuracy, seconds, val_seconds)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """, [id, e.stage, e.epoch, e.trainLoss, e.valLoss, e.valAccuracy, e.seconds, e.valSeconds])
        }
        for (position, s) in run.stages.enumerated() {
            try db.execute("INSERT INTO stage (run_id, position, name, epochs, best_epoch, best_val_loss) VALUES (?, ?, ?, ?, ?, ?)",
                           [id, position, s.name, s.epochs, s.bestEpoch, s.bestValLoss])
        }
        if !run.traceRows.isEmpty {
            let indices = Self.traceColumns.map { run.traceColumns.firstIndex(of: $0) }
            let sql = "INSERT INTO trace (run_id, \(Self.traceColumns.joined(separator: ", "))) VALUES (?\(String(repeating: ", ?", count: Self.traceColumns.count)))"
            for row in run.traceRows {
                try db.execute(sql, [id] + indices.map { index in index.flatMap { row[$0] } })
            }
        }
        return id
    }

    /// Every run, oldest first (epochs, stages and trace included).
    public func runs() throws -> [StoredRun] {
        try runs(where: "1 = 1", arguments: [], details: true)
    }

    /// The runs matching an SQL condition, oldest first; `details` adds epochs, stages and trace.
    func runs(where condition: String, arguments: [any SQLArgument], details: Bool) throws -> [StoredRun] {
        try database.read { db in
            try db.rows("SELECT * FROM run WHERE \(condition) ORDER BY id", arguments).map { row in
                let id = row.integer("id")!
                var run = StoredRun(
                    startedAt: row.text("started_at") ?? "", algorithm: row.text("algorithm") ?? "", dataset: row.text("dataset") ?? "",
                    architecture: row.text("architecture") ?? "", seed: row.integer("seed") ?? 0, status: row.text("status") ?? "",
                    failureReason: row.text("failure_reason"), testAccuracy: row.real("test_accuracy"),
                    effectiveEpochs: row.int("effective_epochs") ?? 0, trainSeconds: row.real("train_seconds") ?? 0,
                    samplesPerSecond: row.real("samples_per_second") ?? 0, trainFlops: row.integer("train_flops") ?? 0,
                    energyJoules: row.real("energy_joules"), energySource: row.text("energy_source"), co2eGrams: row.real("co2e_grams"),
                    peakRSSBytes: row.integer("peak_rss_bytes") ?? 0, threads: row.int("threads") ?? 0,
                    hyperparametersJSON: row.text("hyperparameters") ?? "{}", recordJSON: row.text("record") ?? "{}",
                    role: row.text("role") ?? "train", study: row.text("study"), trialNumber: row.int("trial_number"),
                    comparison: row.text("comparison"),
                    epochs: !details ? [] : try db.rows("SELECT * FROM epoch WHERE run_id = ? ORDER BY \(db.insertionOrder)", [id]).map {
                        .init(stage: $0.text("stage") ?? "", epoch: $0.int("epoch") ?? 0, trainLoss: $0.real("train_loss") ?? .nan,
                              valLoss: $0.real("val_loss") ?? .nan, valAccuracy: $0.real("val_accuracy") ?? .nan,
                              seconds: $0.real("seconds") ?? 0, valSeconds: $0.real("val_seconds") ?? 0)
                    },
                    stages: !details ? [] : try db.rows("SELECT * FROM stage WHERE run_id = ? ORDER BY position", [id]).map {
                        .init(name: $0.text("name") ?? "", epochs: $0.int("epochs") ?? 0, bestEpoch: $0.int("best_epoch") ?? 0,
                              bestValLoss: $0.real("best_val_loss"))
                    },
                    traceColumns: Self.traceColumns,
                    traceRows: !details ? [] : try db.rows("SELECT * FROM trace WHERE run_id = ? ORDER BY \(db.insertionOrder)", [id]).map { r in
                        Self.traceColumns.map { r.real($0) }
                    })
                run.id = id
                return run
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
