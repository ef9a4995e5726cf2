import Foundation
import Records

/// The PostgreSQL store's schema: Optuna's tables as Optuna creates them there, bpfree's run
/// tables beside them, and `bpfree_schema` listing the schema versions applied (the same
/// identifiers as the SQLite store's migrations).
extension ResultsStore {
    /// bpfree's tables on PostgreSQL (schema v4; `id` columns keep the insertion order that
    /// SQLite's rowid keeps).
    static let postgreSQLRunTables = [
        """
        CREATE TABLE run (id BIGSERIAL PRIMARY KEY, started_at TEXT NOT NULL, algorithm TEXT NOT NULL, dataset TEXT NOT NULL,
          architecture TEXT NOT NULL, seed BIGINT NOT NULL, status TEXT NOT NULL, failure_reason TEXT, test_accuracy DOUBLE PRECISION,
          effective_epochs INTEGER NOT NULL, train_seconds DOUBLE PRECISION NOT NULL, samples_per_second DOUBLE PRECISION NOT NULL,
          train_flops BIGINT NOT NULL, energy_joules DOUBLE PRECISION, energy_source TEXT, co2e_grams DOUBLE PRECISION,
          peak_rss_bytes BIGINT NOT NULL, threads INTEGER NOT NULL, hyperparameters TEXT NOT NULL, record TEXT NOT NULL,
          role TEXT NOT NULL DEFAULT 'train', study TEXT, trial_number INTEGER, comparison TEXT, \(postgreSQLInferenceColumns.joined(separator: ", ")))
        """,
        "CREATE INDEX run_on_algorithm ON run (algorithm)",
        "CREATE INDEX run_on_dataset ON run (dataset)",
        """
        CREATE TABLE epoch (id BIGSERIAL PRIMARY KEY, run_id BIGINT NOT NULL REFERENCES run (id) ON DELETE CASCADE, stage TEXT NOT NULL,
          epoch INTEGER NOT NULL, train_loss DOUBLE PRECISION, val_loss DOUBLE PRECISION, val_accuracy DOUBLE PRECISION,
          seconds DOUBLE PRECISION NOT NULL, val_seconds DOUBLE PRECISION NOT NULL)
        """,
        "CREATE INDEX epoch_on_run_id ON epoch (run_id)",
        """
        CREATE TABLE stage (id BIGSERIAL PRIMARY KEY, run_id BIGINT NOT NULL REFERENCES run (id) ON DELETE CASCADE,
          position INTEGER NOT NULL, name TEXT NOT NULL, epochs INTEGER NOT NULL, best_epoch INTEGER NOT NULL, best_val_loss DOUBLE PRECISION)
        """,
        "CREATE INDEX stage_on_run_id ON stage (run_id)",
        "CREATE TABLE trace (id BIGSERIAL PRIMARY KEY, run_id BIGINT NOT NULL REFERENCES run (id) ON DELETE CASCADE, time_s DOUBLE PRECISION NOT NULL, "
            + TraceColumn.names.dropFirst().map { "\($0) DOUBLE PRECISION" }.joined(separator: ", ") + ")",
        "CREATE INDEX trace_on_run_id ON trace (run_id)",
    ]

    /// The inference columns as PostgreSQL declares them.
    static var postgreSQLInferenceColumns: [String] {
        inferenceColumns.map { "\($0.name) \($0.type == .text ? "TEXT" : "DOUBLE PRECISION")" }
    }

    /// What a database made by an earlier build lacks, by schema version.
    static var postgreSQLUpgrades: [String: [String]] {
        [inferenceMigration: postgreSQLInferenceColumns.map { "ALTER TABLE run ADD COLUMN \($0)" }]
    }

    /// Creates what is missing, in one transaction that other workers starting at the same
    /// moment wait for: Optuna's tables (unless Optuna made them already), then bpfree's. A
    /// database with schema versions this build does not know is refused.
    static func preparePostgreSQLSchema(_ database: PostgreSQLDatabase) throws {
        let known = migrator.migrations
        try database.write { db in
            try db.lockStudies()
            if try db.tableExists("bpfree_schema") {
                let applied = try db.rows("SELECT identifier FROM bpfree_schema", []).compactMap { $0.text("identifier") }
                let unknown = applied.filter { !known.contains($0) }
                guard unknown.isEmpty else {
                    throw StoreError(path: database.location, problem: "was written by a newer bpfree (schema '\(unknown.joined(separator: "', '"))'); "
                                     + "refusing to open it with this older build")
                }
                // Versions since that database was made, in order.
                for (position, identifier) in known.enumerated() where !applied.contains(identifier) {
                    for statement in postgreSQLUpgrades[identifier] ?? [] { try db.execute(statement) }
                    try db.execute("INSERT INTO bpfree_schema (position, identifier) VALUES (?, ?)", [position, identifier])
                }
                return
            }
            if try !db.tableExists("studies") {
                for statement in OptunaSchema.postgreSQLStatements { try db.execute(statement) }
                try insertOptunaVersion(db)
            }
            for statement in postgreSQLRunTables { try db.execute(statement) }
            try db.execute("CREATE TABLE bpfree_schema (position INTEGER PRIMARY KEY, identifier TEXT NOT NULL UNIQUE)")
            for (position, identifier) in known.enumerated() {
                try db.execute("INSERT INTO bpfree_schema (position, identifier) VALUES (?, ?)", [position, identifier])
            }
        }
    }
}
