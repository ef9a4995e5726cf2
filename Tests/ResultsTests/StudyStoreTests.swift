import Foundation
import GRDB
import Testing
import TestSupport
import Tuning
@testable import Results

@Suite struct StudyStoreTests {
    static func study(name: String = "s", budget: Int = 3, epochs: Int = 3) -> StoredStudy {
        StoredStudy(name: name, algorithm: "mf", dataset: "fashion-mnist", architecture: "mlp-2x1000", sampler: "tpe",
                    samplerSeed: 42, pruner: "none", trialBudget: budget, epochsPerTrial: epochs, settingsJSON: "{}",
                    createdAt: "2026-11-29T00:00:00Z")
    }

    static let space = SearchDistribution.float(low: 1e-5, high: 1e-2, log: true)

    /// A decide closure that records what it was shown and gives lr = 1e-3 · (number + 1).
    static func decide(_ trials: [FrozenTrial], _ number: Int) -> [String: (value: Double, distribution: SearchDistribution)] {
        ["learning_rate": (1e-3 * Double(number + 1), space)]
    }

    static func claimed(_ claim: TrialClaim) -> FrozenTrial? {
        if case .trial(let trial) = claim { return trial }
        return nil
    }

    /// Optuna tables of another schema (a newer Optuna's) are not written to; the error names
    /// the schema found and the one bpfree writes, and the tables are left as they were.
    @Test(arguments: StoreBackend.available)
    func aNewerOptunaSchemaIsNotWrittenTo(backend: StoreBackend) throws {
        let store = try backend.freshStore()
        _ = try store.openStudy(Self.study(name: "before"))
        try store.database.write { db in
            try db.execute("UPDATE version_info SET schema_version = 13", [])
            try db.execute("UPDATE alembic_version SET version_num = 'v4.5.0.a'", [])
        }
        #expect { try store.openStudy(Self.study(name: "after")) } throws: { error in
            "\(error)".contains("its Optuna tables are schema version 13 (alembic v4.5.0.a); bpfree writes only schema 12 (alembic v3.2.0.a")
        }
        #expect(try store.studies().map(\.name) == ["before"])
    }

    @Test(arguments: StoreBackend.available)
    func aNewStudyHasNoTrialsAndReopeningChecksItsSettings(backend: StoreBackend) throws {
        let store = try backend.freshStore()
        let opened = try store.openStudy(Self.study())
        #expect(opened.id != nil)
        #expect(try store.trials(ofStudy: opened.id!).isEmpty)
        // Same settings: the same study, budget updated.
        let resumed = try store.openStudy(Self.study(budget: 5))
        #expect(resumed.id == opened.id && resumed.trialBudget == 5)
        #expect(try store.study(named: "s")?.trialBudget == 5)
        // A different epoch budget under the same name is refused, naming the setting.
        #expect(throws: StoreError.self) { try store.openStudy(Self.study(epochs: 4)) }
        do { _ = try store.openStudy(Self.study(epochs: 4)) } catch {
            #expect("\(error)".contains("study 's' exists with epochs per trial 3, not 4"), "\(error)")
        }
    }

    @Test(arguments: StoreBackend.available)
    func claimsUpToTheBudgetThenWaitsThenIsDone(backend: StoreBackend) throws {
        let store = try backend.freshStore()
        let id = try store.openStudy(Self.study(budget: 2)).id!
        let first = try #require(Self.claimed(try store.claimTrial(studyID: id, workerID: "a", staleAfter: 60, decide: Self.decide)))
        #expect(first.number == 0 && first.state == .running && first.workerID == "a")
        #expect(first.parameters == ["learning_rate": 1e-3] && first.distributions == ["learning_rate": Self.space])
        let second = try #require(Self.claimed(try store.claimTrial(studyID: id, workerID: "b", staleAfter: 60, decide: Self.decide)))
        #expect(second.number == 1)
        // Budget reached, trials still running: wait.
        #expect(try store.claimTrial(studyID: id, workerID: "c", staleAfter: 60, decide: Self.decide) == .wait)
        #expect(try store.reportIntermediate(trialID: first.id, workerID: "a", step: 1, value: 0.5))
        #expect(try store.reportIntermediate(trialID: first.id, workerID: "a", step: 1, value: 0.9), "a repeated step is ignored")
        #expect(try !store.reportIntermediate(trialID: first.id, workerID: "b", step: 2, value: 0.9), "not b's trial")
        #expect(try store.finishTrial(trialID: first.id, workerID: "a", state: .complete, value: 0.8, failureReason: nil, run: nil))
        #expect(try store.finishTrial(trialID: second.id, workerID: "b", state: .fail, value: nil, failureReason: "diverged", run: nil))
        #expect(try !store.finishTrial(trialID: second.id, workerID: "b", state: .complete, value: 1, failureReason: nil, run: nil),
                "a finished trial is frozen")
        // A failed (not retried) trial counts towards the budget.
        #expect(try store.claimTrial(studyID: id, workerID: "c", staleAfter: 60, decide: Self.decide) == .done)
        let trials = try store.trials(ofStudy: id)
        #expect(trials.map(\.state) == [.complete, .fail])
        #expect(trials[0].value == 0.8 && trials[0].intermediateValues == [1: 0.5])
        #expect(trials[1].failureReason == "diverged" && trials[1].value == nil)
        #expect(trials[0].observed != nil && trials[1].observed == nil, "the sampler ignores failed trials")
    }

    @Test(arguments: StoreBackend.available)
    func aStaleTrialIsFailedAndRetriedWithItsParameters(backend: StoreBackend) throws {
        let store = try backend.freshStore()
        let id = try store.openStudy(Self.study(budget: 1)).id!
        let dead = try #require(Self.claimed(try store.claimTrial(studyID: id, workerID: "dead", now: 1000, staleAfter: 20, decide: Self.decide)))
        #expect(try store.claimTrial(studyID: id, workerID: "b", now: 1010, staleAfter: 20, decide: Self.decide) == .wait, "not stale yet")
        // 30 s without a heartbeat: failed, and its retry goes to the worker that asked.
        let retry = try #require(Self.claimed(try store.claimTrial(studyID: id, workerID: "b", now: 1030, staleAfter: 20, decide: Self.decide)))
        #expect(retry.number == 1 && retry.retryOf == dead.id && retry.workerID == "b")
        #expect(retry.parameters == dead.parameters && retry.distributions == dead.distributions)
        // The dead worker's late writes are refused.
        #expect(try !store.recordHeartbeat(trialID: dead.id, workerID: "dead"))
        #expect(try !store.finishTrial(trialID: dead.id, workerID: "dead", state: .complete, value: 1, failureReason: nil, run: nil))
        #expect(try store.finishTrial(trialID: retry.id, workerID: "b", state: .complete, value: 0.7, failureReason: nil,
                                      run: ResultsStoreTests.run(seed: 1)))
        // The retried failure does not count towards the budget of one: the study is done.
        #expect(try store.claimTrial(studyID: id, workerID: "b", now: 1040, staleAfter: 20, decide: Self.decide) == .done)
        let trials = try store.trials(ofStudy: id)
        #expect(trials.map(\.state) == [.fail, .complete])
        #expect(trials[0].failureReason?.hasPrefix("worker dead stopped sending heartbeats (last one 30 s ago)") == true)
        #expect(trials[1].runID != nil)
        #expect(try store.runs().count == 1)
    }

    /// A worker stopped by a signal gives its trial back: failed with the reason, its run stored
    /// and linked, a retry queued with the same parameters, nothing counted towards the budget.
    @Test(arguments: StoreBackend.available)
    func aTrialGivenBackIsRetriedAndNotCounted(backend: StoreBackend) throws {
        let store = try backend.freshStore()
        let id = try store.openStudy(Self.study(budget: 1)).id!
        let stopped = try #require(Self.claimed(try store.claimTrial(studyID: id, workerID: "a", now: 1000, staleAfter: 20, decide: Self.decide)))
        var run = ResultsStoreTests.run(seed: 1)
        run.record.status = .interrupted
        #expect(try store.giveBackTrial(trialID: stopped.id, studyID: id, workerID: "a", reason: "interrupted by SIGTERM", run: run, now: 1005))
        #expect(try !store.giveBackTrial(trialID: stopped.id, studyID: id, workerID: "a", reason: "again", run: nil, now: 1006), "not twice")
        let retry = try #require(Self.claimed(try store.claimTrial(studyID: id, workerID: "b", now: 1010, staleAfter: 20, decide: Self.decide)))
        #expect(retry.number == 1 && retry.retryOf == stopped.id && retry.parameters == stopped.parameters)
        #expect(try store.finishTrial(trialID: retry.id, workerID: "b", state: .complete, value: 0.7, failureReason: nil, run: nil))
        #expect(try store.claimTrial(studyID: id, workerID: "b", now: 1020, staleAfter: 20, decide: Self.decide) == .done)
        let trials = try store.trials(ofStudy: id)
        #expect(trials.map(\.state) == [.fail, .complete] && trials.countedTowardsBudget.map(\.number) == [1])
        #expect(trials[0].failureReason == "interrupted by SIGTERM; given back and retried")
        let runs = try store.runs()
        #expect(runs.count == 1 && runs[0].status == .interrupted && trials[0].runID == runs[0].id)
    }

    /// A store of schema v2 (bpfree's own study tables) moves into Optuna's tables with every
    /// study setting, trial, parameter, value, intermediate value, worker, reason, run link and
    /// retry kept; its runs stay.
    @Test func aVersion2StoreIsMigratedKeepingEveryStudyAndTrial() throws {
        let path = IDXFiles.temporaryFolder() + "/v2.sqlite"
        do {
            let pool = try DatabasePool(path: path)
            try ResultsStore.migrator.migrate(pool, upTo: "v2: studies, trials, run roles")
            try pool.write { db in
                try db.execute(sql: """
                    INSERT INTO run (started_at, algorithm, dataset, architecture, seed, status, effective_epochs, train_seconds,
                      samples_per_second, train_flops, peak_rss_bytes, threads, hyperparameters, record, role, study, trial_number)
                    VALUES ('2026-11-29T10:05:00Z', 'mf', 'fashion-mnist', 'mlp-2x1000', 1, 'completed', 3, 1, 1, 1, 1, 2, '{}',
                      '{"algorithm": "mf", "dataset": "fashion-mnist", "architecture": "mlp-2x1000", "seed": 1, "status": "completed",
                        "role": "trial", "study": "s", "trial_number": 0}', 'trial', 's', 0)
                    """)
                try db.execute(sql: """
                    INSERT INTO study (name, algorithm, dataset, architecture, sampler, sampler_seed, pruner, trial_budget,
                      epochs_per_trial, settings, created_at)
                    VALUES ('s', 'mf', 'fashion-mnist', 'mlp-2x1000', 'tpe', 42, 'median', 2, 3, '{"patience": 20}', '2026-11-29T00:00:00Z')
                    """)
                try db.execute(sql: """
                    INSERT INTO trial (id, study_id, number, state, value, failure_reason, worker_id, heartbeat, started_at, completed_at, run_id, retry_of)
                    VALUES (1, 1, 0, 'COMPLETE', 0.8, NULL, 'a', 1764410700.25, '2026-11-29T10:00:00Z', '2026-11-29T10:05:00Z', 1, NULL),
                           (2, 1, 1, 'FAIL', NULL, 'worker b stopped sending heartbeats', 'b', 1764410800, '2026-11-29T10:06:00Z', '2026-11-29T10:08:00Z', NULL, NULL),
                           (3, 1, 2, 'RUNNING', NULL, NULL, 'c', 1764410900.5, '2026-11-29T10:08:00Z', NULL, NULL, 2)
                    """)
                for (trial, value) in [(1, 1e-3), (2, 2e-3), (3, 2e-3)] {
                    try db.execute(sql: "INSERT INTO trial_param VALUES (?, 'learning_rate', ?, ?, ?)",
                                   arguments: [trial, value, "\(value)", Self.space.json])
                }
                try db.execute(sql: "INSERT INTO trial_intermediate VALUES (1, 1, 0.5), (1, 2, NULL), (2, 1, 0.25)")
            }
        }
        let store = try ResultsStore(path: path)
        let study = try #require(try store.study(named: "s"))
        #expect(study == { var s = StoredStudy(name: "s", algorithm: "mf", dataset: "fashion-mnist", architecture: "mlp-2x1000", sampler: "tpe",
                                                samplerSeed: 42, pruner: "median", trialBudget: 2, epochsPerTrial: 3,
                                                settingsJSON: #"{"patience": 20}"#, createdAt: "2026-11-29T00:00:00Z")
                                s.id = 1
                                return s }())
        let trials = try store.trials(ofStudy: 1)
        #expect(trials.map(\.id) == [1, 2, 3] && trials.map(\.number) == [0, 1, 2])
        #expect(trials.map(\.state) == [.complete, .fail, .running])
        #expect(trials[0].value == 0.8 && trials[1].value == nil)
        #expect(trials.map(\.parameters) == [["learning_rate": 1e-3], ["learning_rate": 2e-3], ["learning_rate": 2e-3]])
        #expect(trials.allSatisfy { $0.distributions == ["learning_rate": Self.space] })
        #expect(trials[0].intermediateValues[1] == 0.5 && trials[0].intermediateValues[2]?.isNaN == true && trials[1].intermediateValues == [1: 0.25])
        #expect(trials.map(\.workerID) == ["a", "b", "c"])
        #expect(trials[1].failureReason == "worker b stopped sending heartbeats")
        #expect(trials[0].runID == 1 && trials[2].retryOf == 2)
        #expect(trials[0].startedAt == "2026-11-29 10:00:00.000000" && trials[0].completedAt == "2026-11-29 10:05:00.000000")
        #expect(abs((trials[2].heartbeat ?? 0) - 1764410900.5) < 1e-3)
        #expect(try store.runs().count == 1)
        // The old tables are gone; Optuna's version rows are there.
        let (oldTables, version, revision) = try store.database.read { db in
            (try db.tableExists("trial") || db.tableExists("study"),
             try db.row("SELECT schema_version, library_version FROM version_info"),
             try db.row("SELECT version_num FROM alembic_version")?.text("version_num"))
        }
        #expect(!oldTables)
        #expect(version?.int("schema_version") == 12 && version?.text("library_version") == "4.9.0")
        #expect(revision == "v3.2.0.a")
        // The migrated study goes on: the running trial's worker can still finish it, then the budget is met.
        #expect(try store.finishTrial(trialID: 3, workerID: "c", state: .complete, value: 0.9, failureReason: nil, run: nil))
        #expect(try store.claimTrial(studyID: 1, workerID: "d", staleAfter: 60, decide: Self.decide) == .done)
    }

    @Test func distributionsRoundTripThroughOptunasJSON() {
        for distribution in [SearchDistribution.float(low: 1e-5, high: 0.01, log: true), .float(low: 0, high: 1, step: 0.25),
                             .integer(low: 1, high: 64, log: true), .categorical(count: 3)] {
            #expect(SearchDistribution(json: distribution.json) == distribution, "\(distribution.json)")
        }
        #expect(SearchDistribution.float(low: 1e-5, high: 0.01, log: true).json
                == #"{"name": "FloatDistribution", "attributes": {"step": null, "low": 1e-05, "high": 0.01, "log": true}}"#)
    }
}
