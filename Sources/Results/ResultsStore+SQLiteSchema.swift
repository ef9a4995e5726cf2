import Foundation
import GRDB
import Records

/// The SQLite store's schema: GRDB migrations, one per version, never edited once released.
extension ResultsStore {
    /// Refuses a database that is not a bpfree store (tables but no bpfree schema history) or
    /// one a newer bpfree wrote (migrations this build does not know): never migrate over them.
    static func checkIsBPFreeStore(_ db: Database, path: String) throws {
        let tables = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        if !tables.isEmpty, !tables.contains("grdb_migrations") {
            throw StoreError(path: path, problem: "is not a bpfree results store (it holds the tables "
                             + tables.prefix(4).joined(separator: ", ") + (tables.count > 4 ? ", …" : "") + "); refusing to change it")
        }
        guard tables.contains("grdb_migrations") else { return }
        let known = Set(migrator.migrations)
        let unknown = try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations").filter { !known.contains($0) }
        if !unknown.isEmpty {
            throw StoreError(path: path, problem: "was written by a newer bpfree (schema '\(unknown.joined(separator: "', '"))'); "
                             + "refusing to open it with this older build")
        }
    }

    /// The schema, one registered migration per version (never edited once released).
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: runs, epochs, stages, traces") { db in
            try db.create(table: "run") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("started_at", .text).notNull()
                t.column("algorithm", .text).notNull().indexed()
                t.column("dataset", .text).notNull().indexed()
                t.column("architecture", .text).notNull()
                t.column("seed", .integer).notNull()
                t.column("status", .text).notNull()
                t.column("failure_reason", .text)
                t.column("test_accuracy", .double)
                t.column("effective_epochs", .integer).notNull()
                t.column("train_seconds", .double).notNull()
                t.column("samples_per_second", .double).notNull()
                t.column("train_flops", .integer).notNull()
                t.column("energy_joules", .double)
                t.column("energy_source", .text)
                t.column("co2e_grams", .double)
                t.column("peak_rss_bytes", .integer).notNull()
                t.column("threads", .integer).notNull()
                t.column("hyperparameters", .text).notNull()
                t.column("record", .text).notNull()
            }
            try db.create(table: "epoch") { t in
                t.column("run_id", .integer).notNull().references("run", onDelete: .cascade).indexed()
                t.column("stage", .text).notNull()
                t.column("epoch", .integer).notNull()
                t.column("train_loss", .double).notNull()
                t.column("val_loss", .double).notNull()
                t.column("val_accuracy", .double).notNull()
                t.column("seconds", .double).notNull()
                t.column("val_seconds", .double).notNull()
            }
            try db.create(table: "stage") { t in
                t.column("run_id", .integer).notNull().references("run", onDelete: .cascade).indexed()
                t.column("position", .integer).notNull()
                t.column("name", .text).notNull()
                t.column("epochs", .integer).notNull()
                t.column("best_epoch", .integer).notNull()
                t.column("best_val_loss", .double)
            }
            try db.create(table: "trace") { t in
                t.column("run_id", .integer).notNull().references("run", onDelete: .cascade).indexed()
                t.column(TraceColumn.time.rawValue, .double).notNull()
                for column in TraceColumn.names.dropFirst() { t.column(column, .double) }
            }
        }
        migrator.registerMigration("v2: studies, trials, run roles") { db in
            try db.alter(table: "run") { t in
                t.add(column: "role", .text).notNull().defaults(to: "train")
                t.add(column: "study", .text)
                t.add(column: "trial_number", .integer)
                t.add(column: "comparison", .text)
            }
            try db.create(table: "study") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("name", .text).notNull().unique()
                t.column("algorithm", .text).notNull()
                t.column("dataset", .text).notNull()
                t.column("architecture", .text).notNull()
                t.column("direction", .text).notNull().defaults(to: "maximize")
                t.column("sampler", .text).notNull()
                t.column("sampler_seed", .integer).notNull()
                t.column("pruner", .text).notNull()
                t.column("trial_budget", .integer).notNull()
                t.column("epochs_per_trial", .integer).notNull()
                t.column("settings", .text).notNull()
                t.column("created_at", .text).notNull()
            }
            try db.create(table: "trial") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("study_id", .integer).notNull().references("study", onDelete: .cascade).indexed()
                t.column("number", .integer).notNull()
                t.column("state", .text).notNull()
                t.column("value", .double)
                t.column("failure_reason", .text)
                t.column("worker_id", .text)
                t.column("heartbeat", .double)
                t.column("started_at", .text)
                t.column("completed_at", .text)
                t.column("run_id", .integer).references("run", onDelete: .setNull)
                t.column("retry_of", .integer).references("trial")
                t.uniqueKey(["study_id", "number"])
            }
            try db.create(table: "trial_param") { t in
                t.column("trial_id", .integer).notNull().references("trial", onDelete: .cascade)
                t.column("name", .text).notNull()
                t.column("internal_value", .double).notNull()
                t.column("external_value", .text).notNull()
                t.column("distribution", .text).notNull()
                t.primaryKey(["trial_id", "name"])
            }
            try db.create(table: "trial_intermediate") { t in
                t.column("trial_id", .integer).notNull().references("trial", onDelete: .cascade)
                t.column("step", .integer).notNull()
                t.column("value", .double)
                t.primaryKey(["trial_id", "step"])
            }
        }
        migrator.registerMigration("v3: Optuna's RDB schema for studies and trials") { db in
            try migrateStudiesToOptunaSchema(db)
        }
        migrator.registerMigration(Self.inferenceMigration) { db in
            for column in Self.inferenceColumns { try db.execute(sql: "ALTER TABLE run ADD COLUMN \(column.name) \(column.type == .text ? "TEXT" : "REAL")") }
        }
        return migrator
    }

    /// Creates Optuna's tables, moves every study and trial of schema v2 into them (ids and
    /// numbers kept) and drops the v2 tables.
    static func migrateStudiesToOptunaSchema(_ db: Database) throws {
        let session = SQLiteDatabase.Session(db: db)
        for statement in OptunaSchema.statements { try db.execute(sql: statement) }
        try insertOptunaVersion(session)
        for row in try Row.fetchAll(db, sql: "SELECT * FROM study ORDER BY id") {
            let study = StoredStudy(name: row["name"], algorithm: row["algorithm"], dataset: row["dataset"],
                                    architecture: row["architecture"], sampler: row["sampler"], samplerSeed: row["sampler_seed"],
                                    pruner: row["pruner"], trialBudget: row["trial_budget"], epochsPerTrial: row["epochs_per_trial"],
                                    settingsJSON: row["settings"], createdAt: row["created_at"])
            _ = try insertStudy(study, session, id: row["id"])
        }
        let numbers = Dictionary(try Row.fetchAll(db, sql: "SELECT id, number FROM trial").map { ($0["id"] as Int64, $0["number"] as Int) },
                                 uniquingKeysWith: { first, _ in first })
        for row in try Row.fetchAll(db, sql: "SELECT * FROM trial ORDER BY id") {
            let id: Int64 = row["id"], state: String = row["state"]
            let time = { (column: String) in (row[column] as String?).flatMap(unixTime).map(timestamp) }
            try db.execute(sql: "INSERT INTO trials (trial_id, number, study_id, state, datetime_start, datetime_complete) VALUES (?, ?, ?, ?, ?, ?)",
                           arguments: [id, row["number"], row["study_id"], state, time("started_at"), time("completed_at")])
            if let value: Double = row["value"], state != "FAIL" {
                try db.execute(sql: "INSERT INTO trial_values (trial_id, objective, value, value_type) VALUES (?, 0, ?, 'FINITE')",
                               arguments: [id, value])
            }
            if let heartbeat: Double = row["heartbeat"] {
                try db.execute(sql: "INSERT INTO trial_heartbeats (trial_id, heartbeat) VALUES (?, ?)", arguments: [id, timestamp(heartbeat)])
            }
            let facts: [(String, AttributeValue?)] = [
                (TrialKey.worker, (row["worker_id"] as String?).map { .text($0) }),
                (TrialKey.failureReason, (row["failure_reason"] as String?).map { .text($0) }),
                (TrialKey.runID, (row["run_id"] as Int?).map { .integer($0) }),
            ]
            for case let (key, value?) in facts { try setAttribute(session, .trial, id, key, value) }
            // A v2 retry names the trial it retries; Optuna's attributes name the chain by numbers.
            var history: [Int] = [], previous: Int64? = row["retry_of"]
            while let trial = previous, let number = numbers[trial] {
                history.insert(number, at: 0)
                previous = try Int64.fetchOne(db, sql: "SELECT retry_of FROM trial WHERE id = ?", arguments: [trial])
            }
            if !history.isEmpty {
                try setAttribute(session, .trialSystem, id, TrialKey.failedTrial, .integer(history[0]))
                try setAttribute(session, .trialSystem, id, TrialKey.retryHistory, .json("[" + history.map(String.init).joined(separator: ", ") + "]"))
            }
        }
        try db.execute(sql: """
            INSERT INTO trial_params (trial_id, param_name, param_value, distribution_json)
            SELECT trial_id, name, internal_value, distribution FROM trial_param ORDER BY trial_id, name
            """)
        try db.execute(sql: """
            INSERT INTO trial_intermediate_values (trial_id, step, intermediate_value, intermediate_value_type)
            SELECT trial_id, step, value, CASE WHEN value IS NULL THEN 'NAN' ELSE 'FINITE' END FROM trial_intermediate ORDER BY trial_id, step
            """)
        for table in ["trial_intermediate", "trial_param", "trial", "study"] { try db.drop(table: table) }
    }

    /// Optuna's version rows (schema version and alembic revision).
    static func insertOptunaVersion(_ db: any SQLSession) throws {
        try db.execute("INSERT INTO version_info (version_info_id, schema_version, library_version) VALUES (1, ?, ?)",
                       [OptunaSchema.schemaVersion, OptunaSchema.libraryVersion])
        try db.execute("INSERT INTO alembic_version (version_num) VALUES (?)", [OptunaSchema.alembicRevision])
    }
}
