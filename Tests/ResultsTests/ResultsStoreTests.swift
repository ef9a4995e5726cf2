import Foundation
import GRDB
import Records
import Testing
import TestSupport
@testable import Results

@Suite struct ResultsStoreTests {
    static func run(seed: Int64, status: RunStatus = .completed, accuracy: Double? = 0.9) -> StoredRun {
        StoredRun(.example(seed: UInt64(seed), status: status, accuracy: accuracy),
                  traceColumns: ["time_s", "rss_bytes", "power_watts", "cpu_utilization_percent"],
                  traceRows: [[0.2, 1e8, 7.5, 90], [0.4, 1.1e8, nil, 95]])
    }

    @Test(arguments: StoreBackend.available)
    func roundTripsRunsWithEpochsStagesAndTraces(backend: StoreBackend) throws {
        let store = try backend.freshStore()
        let first = try store.insert(Self.run(seed: 1))
        let second = try store.insert(Self.run(seed: 2, status: .failed, accuracy: nil))
        #expect(second == first + 1)
        let runs = try store.runs()
        #expect(runs.count == 2)
        var expected = Self.run(seed: 1)
        expected.id = first
        #expect(runs[0].record == expected.record && runs[0].trainFlops == 1 << 40)
        // The trace comes back in the store's column order, missing columns as nil.
        let column = { (name: String) in TraceColumn.names.firstIndex(of: name)! }
        #expect(runs[0].traceRows.count == 2)
        #expect(runs[0].traceRows[1][column("rss_bytes")] == 1.1e8)
        #expect(runs[0].traceRows[1][column("power_watts")] == nil)
        #expect(runs[0].traceRows[0][column("gpu_sm_clock_mhz")] == nil)
        #expect(runs[1].status == .failed && runs[1].testAccuracy == nil && runs[1].failureReason == "diverged, at \"epoch\" 3")
    }

    /// A connection lost after the server committed (the reply to COMMIT lost) must not apply the
    /// transaction twice: the store asks the server whether it committed before running it again.
    @Test(.enabled(if: StoreBackend.available.contains(.postgresql)))
    func aLostCommitReplyDoesNotStoreTheRunTwice() throws {
        let store = try StoreBackend.postgresql.freshStore()
        let database = try #require(store.database as? PostgreSQLDatabase)
        database.loseCommitReplies.withLock { $0 = 1 }
        let id = try store.insert(Self.run(seed: 1))
        #expect(database.loseCommitReplies.withLock { $0 } == 0, "the simulated loss happened")
        let runs = try store.runs()
        #expect(runs.map(\.id) == [id])
    }

    @Test func usesWALAndVersionedMigrations() throws {
        let path = IDXFiles.temporaryFolder() + "/s.sqlite"
        let store = try ResultsStore(path: path)
        #expect(try store.journalMode() == "wal")
        #expect(try store.appliedMigrations() == ["v1: runs, epochs, stages, traces", "v2: studies, trials, run roles",
                                                 "v3: Optuna's RDB schema for studies and trials", "v4: inference columns"])
        // Reopening applies nothing twice and keeps the data.
        try store.insert(Self.run(seed: 3))
        #expect(try ResultsStore(path: path).runs().count == 1)
    }

    @Test func aVersion1StoreIsMigratedKeepingItsRuns() throws {
        let path = IDXFiles.temporaryFolder() + "/old.sqlite"
        do {
            let pool = try DatabasePool(path: path)
            try ResultsStore.migrator.migrate(pool, upTo: "v1: runs, epochs, stages, traces")
            try pool.write { db in
                try db.execute(sql: """
                    INSERT INTO run (started_at, algorithm, dataset, architecture, seed, status, effective_epochs, train_seconds,
                      samples_per_second, train_flops, peak_rss_bytes, threads, hyperparameters, record)
                    VALUES ('2026-01-01T00:00:00Z', 'bp', 'mnist', 'mlp-2x1000', 1, 'completed', 3, 1, 1, 1, 1, 2, '{}',
                      '{"algorithm": "bp", "dataset": "mnist", "architecture": "mlp-2x1000", "seed": 1, "status": "completed",
                        "effective_epochs": 3, "threads": 2}')
                    """)
            }
        }
        let store = try ResultsStore(path: path)
        #expect(try store.appliedMigrations().count == 4)
        let runs = try store.runs()
        #expect(runs.count == 1 && runs[0].role == .train && runs[0].effectiveEpochs == 3 && runs[0].study == nil)
        #expect(try store.studies().isEmpty)
    }

    /// Schema v4: the inference cost is in columns of `run` too, on both backends; a database
    /// made before v4 gets them on opening, its runs kept.
    @Test(arguments: StoreBackend.available)
    func inferenceCostIsStoredInColumnsAndOlderStoresGetThem(backend: StoreBackend) throws {
        let location = try backend.freshLocation()
        var run = Self.run(seed: 1)
        run.record.inference = InferenceRecord(batchSize: 1000, samplesPerSecond: 5e4, predictions: 3000, latencyMedianMs: 0.06,
                                               latencyP95Ms: 0.09, latencyRepetitions: 200, flopsPerPrediction: 2.3e6,
                                               energyJoulesPer10k: 1.1, energySource: "estimate", peakRSSBytes: 1 << 27)
        do {
            let store = try ResultsStore(location: location)
            try store.insert(run)
            // As a database made before v4: without the columns and the version.
            try store.database.write { db in
                for column in ResultsStore.inferenceColumns { try db.execute("ALTER TABLE run DROP COLUMN \(column.name)", []) }
                switch db.dialect {
                case .sqlite: try db.execute("DELETE FROM grdb_migrations WHERE identifier = ?", [ResultsStore.inferenceMigration])
                case .postgresql: try db.execute("DELETE FROM bpfree_schema WHERE identifier = ?", [ResultsStore.inferenceMigration])
                }
            }
        }
        let store = try ResultsStore(location: location)
        #expect(try store.appliedMigrations().last == ResultsStore.inferenceMigration)
        #expect(try store.runs().map(\.seed) == [1] && (try store.runs()[0].inference?.samplesPerSecond) == 5e4, "the record keeps it")
        try store.insert(run)
        let row = try #require(try store.database.read { try $0.row("SELECT inference_samples_per_second, inference_energy_source FROM run WHERE id = 2") })
        #expect(row.real("inference_samples_per_second") == 5e4 && row.text("inference_energy_source") == "estimate")
    }

    /// A store whose pages were damaged (a bad disk, a copy cut short) is refused with its name,
    /// never read as runs nor migrated.
    @Test func aCorruptStoreIsRefusedByName() throws {
        let path = IDXFiles.temporaryFolder() + "/corrupt.sqlite"
        do {
            let store = try ResultsStore(path: path)
            for seed in 1...3 { try store.insert(Self.run(seed: Int64(seed))) }
        }
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        try handle.seek(toOffset: 100)
        try handle.write(contentsOf: Data((0..<8000).map { UInt8(truncatingIfNeeded: $0 &* 37) }))
        try handle.close()
        #expect { _ = try ResultsStore(path: path).runs() } throws: { "\($0)".hasPrefix(path + ": ") }
    }

    /// Pages damaged deep in the file, where opening alone does not read, are found when the
    /// store is opened (PRAGMA quick_check), before any run could train and then fail to be stored.
    @Test func damagedPagesAreFoundWhenTheStoreIsOpened() throws {
        let path = IDXFiles.temporaryFolder() + "/deep.sqlite"
        do {
            let store = try ResultsStore(path: path)
            for seed in 1...40 { try store.insert(Self.run(seed: Int64(seed))) }
        }
        let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        try handle.seek(toOffset: UInt64(size / 4096 / 2 * 4096))
        try handle.write(contentsOf: Data((0..<8192).map { UInt8(truncatingIfNeeded: $0 &* 37) }))
        try handle.close()
        #expect { _ = try ResultsStore(path: path) } throws: { "\($0)".hasPrefix(path + ": ") && "\($0)".contains("malformed") || "\($0)".contains("damaged") }
    }

    @Test func aFileThatIsNotADatabaseNamesTheFile() throws {
        let path = IDXFiles.temporaryFolder() + "/not.sqlite"
        try "hello, this is not SQLite".padding(toLength: 4096, withPad: "x", startingAt: 0).write(toFile: path, atomically: true, encoding: .utf8)
        #expect { _ = try ResultsStore(path: path) } throws: { "\($0)".hasPrefix(path + ": cannot open the results store") }
    }

    /// A database that is not a bpfree store (another program's, or a store Optuna made itself)
    /// and a store of a newer schema are refused, and left exactly as they were.
    @Test func foreignAndNewerDatabasesAreRefusedUntouched() throws {
        let folder = IDXFiles.temporaryFolder()
        let foreign = folder + "/foreign.sqlite"
        try DatabaseQueue(path: foreign).write { try $0.execute(sql: "CREATE TABLE studies (study_id INTEGER PRIMARY KEY); CREATE TABLE notes (x)") }
        #expect { _ = try ResultsStore(path: foreign) } throws: {
            "\($0)" == foreign + ": is not a bpfree results store (it holds the tables notes, studies); refusing to change it"
        }
        #expect(try DatabaseQueue(path: foreign).read { try $0.tableExists("run") } == false)

        let newer = folder + "/newer.sqlite"
        _ = try ResultsStore(path: newer)
        try DatabaseQueue(path: newer).write { try $0.execute(sql: "INSERT INTO grdb_migrations VALUES ('v9: the future')") }
        #expect { _ = try ResultsStore(path: newer) } throws: {
            "\($0)".contains("was written by a newer bpfree (schema 'v9: the future'); refusing to open it with this older build")
        }
    }

    /// The store's `run` table and the runs CSV read their columns from one table: a column
    /// holds the same value in both, under the same name.
    @Test(arguments: StoreBackend.available)
    func theRunTableAndTheCSVHoldTheSameColumns(backend: StoreBackend) throws {
        let store = try backend.freshStore()
        var run = Self.run(seed: 5)
        run.record.inference = InferenceRecord(batchSize: 1000, samplesPerSecond: 2000, predictions: 3000, latencyMedianMs: 0.5, latencyP95Ms: 0.7,
                                               latencyRepetitions: 50, flopsPerPrediction: 4e6, energyJoulesPer10k: 1.1, energySource: "estimate",
                                               peakRSSBytes: 1 << 27)
        run.record.role = .final
        run.record.study = "s"
        run.record.comparison = "c"
        try store.insert(run)
        let row = try #require(try store.database.read { try $0.row("SELECT * FROM run") })
        let csv = ResultsExport.runsCSV(try store.runs()).split(separator: "\n")
        let csvRow = Dictionary(uniqueKeysWithValues: zip(csv[0].split(separator: ",").map(String.init),
                                                          csv[1].split(separator: ",", omittingEmptySubsequences: false).map(String.init)))
        let expected: [(String, String)] = [("seed", "5"), ("role", "final"), ("study", "s"), ("comparison", "c"), ("threads", "2"),
                                            ("test_accuracy", "0.9"), ("inference_latency_p95_ms", "0.7"), ("inference_energy_source", "estimate")]
        for (name, value) in expected {
            #expect(row.text(name) == value, "run table \(name)")
            #expect(csvRow[name] == value, "CSV \(name)")
        }
        #expect(row.real("inference_peak_rss_bytes") == Double(1 << 27) && csvRow["inference_peak_rss_bytes"] == "134217728.0")
        // Every column of the table is a column of the CSV; the stored ones are columns of the run table.
        #expect(Array(csvRow.keys).sorted() == (["id"] + ResultsStore.runColumns.map(\.name)).sorted())
        for column in ResultsStore.runColumns where column.stored { #expect(row.values[column.name] != nil, "\(column.name)") }
    }

    @Test(arguments: StoreBackend.available)
    func exportsCSVWithQuotingAndJSONWithIds(backend: StoreBackend) throws {
        let store = try backend.freshStore()
        try store.insert(Self.run(seed: 1))
        try store.insert(Self.run(seed: 2, status: .failed, accuracy: nil))
        let runs = try store.runs()
        let csv = ResultsExport.runsCSV(runs).split(separator: "\n")
        #expect(csv.count == 3)
        #expect(csv[0].hasPrefix("id,started_at,algorithm"))
        #expect(csv[1].hasPrefix("1,2026-11-29T00:00:00Z,mf,fashion-mnist,mlp-2x1000,1,completed,0.9,2,12.5,"))
        #expect(csv[2].contains(#","diverged, at ""epoch"" 3",train,,,,,,,,,"#), "no inference for a failed run")
        #expect(csv[0].hasSuffix(",comparison,inference_samples_per_second,inference_latency_median_ms,inference_latency_p95_ms,"
                                 + "inference_flops_per_prediction,inference_energy_joules_per_10k,inference_energy_source,"
                                 + "inference_peak_rss_bytes,train_limit,protocol,max_epochs,hyperparameters"))
        // What makes runs different settings: the training-set size, protocol, cap and every option.
        let record = runs[0].record
        let options = record.hyperparameterSummary
        #expect(!options.isEmpty && csv[1].hasSuffix(",\(record.trainLimit.map(String.init) ?? ""),\(record.trainingProtocol.rawValue),"
                                                     + "\(record.stopping.maxEpochs),\(ResultsExport.quoted(options))"), "\(csv[1])")
        // The epoch and stage tables, read back: a row per epoch and per stage of each record.
        let epochs = try store.csv(of: .epoch).split(separator: "\n")
        #expect(epochs == ["run_id,stage,epoch,train_loss,val_loss,val_accuracy,seconds,val_seconds",
                           "1,layer1,1,0.5,0.4,0.85,3.0,0.3", "1,layer2,1,0.3,0.35,0.88,3.5,0.3",
                           "2,layer1,1,0.5,0.4,0.85,3.0,0.3", "2,layer2,1,0.3,0.35,0.88,3.5,0.3"])
        #expect(try store.csv(of: .stage).split(separator: "\n") == ["run_id,position,name,epochs,best_epoch,best_val_loss",
                                                                      "1,0,layer1,1,1,0.4", "1,1,layer2,1,0,", "2,0,layer1,1,1,0.4", "2,1,layer2,1,0,"])
        let json = try JSONSerialization.jsonObject(with: Data(try ResultsExport.runsJSON(runs).utf8)) as! [[String: Any]]
        #expect(json.map { $0["id"] as? Int } == [1, 2])
        #expect(json[1]["seed"] as? Int == 2)
    }
}

/// A PostgreSQL URL's password never reaches a message, a report or a command line, in either
/// place libpq reads it: `user:password@` or the `password` query parameter.
@Suite struct PasswordRedactionTests {
    @Test(arguments: ["postgresql://lab:s3cr%2Fet@db:5432/bpfree?sslmode=require",
                      "postgresql://lab@db:5432/bpfree?sslmode=require&password=s3cr%2Fet",
                      "postgres://db/bpfree?password=s3cr%2Fet"])
    func thePasswordIsMaskedAndSplitOff(url: String) {
        let shown = PostgreSQLDatabase.redacted(url)
        #expect(!shown.contains("s3cr") && shown.contains("***") && shown.contains("db"), "\(shown)")
        let (bare, password) = PostgreSQLDatabase.splitPassword(url)
        #expect(password == "s3cr/et" && !bare.contains("s3cr") && !bare.contains("password"), "\(bare)")
        #expect(PostgreSQLDatabase.redactedMessage("FATAL: password s3cr/et refused", url: url) == "FATAL: password *** refused")
        #expect(url.contains("sslmode") == bare.contains("sslmode=require"), "other parameters stay")
    }

    @Test func aURLWithoutAPasswordIsShownAsItIs() {
        #expect(PostgreSQLDatabase.redacted("postgresql://lab@db/bpfree?sslmode=require") == "postgresql://lab@db/bpfree?sslmode=require")
        #expect(PostgreSQLDatabase.splitPassword("postgresql://lab@db/bpfree").password == nil)
    }
}

/// A PostgreSQL server that accepts the connection and never answers is given up on, with the
/// server named, instead of hanging silently (libpq waits forever without `connect_timeout`).
@Suite struct PostgreSQLConnectTimeoutTests {
    @Test func aSilentListenerTimesOutNamingTheServer() throws {
        // A listening socket nobody accepts on: the kernel completes the handshake, then silence.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        #expect(bound == 0 && listen(listener, 4) == 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) } }
        let port = UInt16(bigEndian: address.sin_port)
        let url = "postgresql://bpfree:s3cret@127.0.0.1:\(port)/bpfree?connect_timeout=1"
        #expect { try PostgreSQLDatabase(url: url) } throws: { error in
            "\(error)".contains("127.0.0.1:\(port)") && "\(error)".contains("timeout") && !"\(error)".contains("s3cret")
        }
    }

    @Test func aTimeoutIsAddedUnlessOneIsGiven() {
        #expect(PostgreSQLDatabase.withConnectTimeout("postgresql://u@db/x", environment: [:]) == "postgresql://u@db/x?connect_timeout=10")
        #expect(PostgreSQLDatabase.withConnectTimeout("postgresql://u@db/x?sslmode=require", environment: [:])
                == "postgresql://u@db/x?sslmode=require&connect_timeout=10")
        #expect(PostgreSQLDatabase.withConnectTimeout("postgresql://u@db/x?connect_timeout=3", environment: [:]) == "postgresql://u@db/x?connect_timeout=3")
        #expect(PostgreSQLDatabase.withConnectTimeout("postgresql://u@db/x", environment: ["PGCONNECT_TIMEOUT": "5"]) == "postgresql://u@db/x")
    }
}

/// CSV cells a spreadsheet would run as formulas stay text; numbers stay numbers.
@Suite struct CSVInjectionTests {
    @Test(arguments: [("=HYPERLINK(\"http://x\",\"y\")", "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\""), ("+1+2", "'+1+2"),
                      ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("-0.5", "-0.5"), ("+3", "+3"),
                      ("1e-3", "1e-3"), ("bp", "bp"), ("", "")])
    func formulaCellsAreNeutralised(field: String, written: String) {
        #expect(ResultsExport.quoted(field) == written)
    }
}
