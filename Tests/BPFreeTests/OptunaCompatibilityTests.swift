import Foundation
import Records
import Results
import Testing
import TestSupport
import Tuning

/// A bpfree store as Optuna and optuna-dashboard read it, checked by those tools themselves
/// (Optuna 4.9 and optuna-dashboard from PyPI, in a virtual environment made once and cached).
@Suite(.serialized) struct OptunaCompatibilityTests {
    static let packages = ["optuna==4.9.*", "optuna-dashboard", "pandas", "psycopg[binary]"]
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Scripts/optuna_compat_check.py").standardized.path

    /// What Scripts/optuna_compat_check.py read from the store.
    static func check(store location: String, study: String, trials: Int, directions: String = "maximize") throws -> [String: Any] {
        let python = try PythonEnvironment.python(named: "optuna-4.9", packages: packages)
        let storage = ResultsStore.isPostgreSQL(location) ? location : "sqlite:///" + location
        let output = try PythonEnvironment.run(python, [script, "--storage", storage, "--study", study, "--trials", String(trials),
                                                        "--directions", directions])
        return try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any], "\(output)")
    }

    /// The bar: a real `bpfree tune` process, then `optuna.load_study` and the dashboard.
    @Test(arguments: StoreBackend.available)
    func optunaAndTheDashboardReadATunedStudy(backend: StoreBackend) throws {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("bpfree").path
        let path = try backend.freshLocation()
        try PythonEnvironment.run(binary, ["tune", "--algorithm", "mf", "--dataset", "synthetic", "--trials", "8", "--epochs", "2",
                                           "--threads", "1", "--study", "mf-study", "--store", path])
        let read = try Self.check(store: path, study: "mf-study", trials: 8)
        #expect(read["optuna"] as? String == "4.9.0")
        #expect(read["states"] as? [String] == ["COMPLETE"])
        #expect(read["params"] as? [String] == ["learning_rate"])
        #expect(read["distributions"] as? [String] == ["FloatDistribution"])
        #expect((read["values"] as? [Double])?.count == 8)
        // MF trains one stage per layer: steps are cumulative epochs, 2 layers × 2 epochs.
        #expect((read["intermediate_steps"] as? [[Int]])?.allSatisfy { $0 == [1, 2, 3, 4] } == true, "\(read)")
        #expect(read["user_attrs"] as? [String] == ["energy_joules", "energy_source", "run_id", "train_seconds", "worker"])
        #expect((read["study_user_attrs"] as? [String])?.contains("trial_budget") == true)
        #expect(read["dashboard_trials"] as? Int == 8)
    }

    /// The bar for multi-objective studies (on synthetic data here; the closing note has
    /// the real Fashion-MNIST run): `tune --objectives` past TPE's ten startup trials, then
    /// Optuna reads two directions, the metric names and a non-empty `best_trials` equal to
    /// bpfree's Pareto front, and the dashboard lists the study with both directions. A pruner
    /// is refused for such a study, as Optuna's are.
    @Test(arguments: StoreBackend.available)
    func optunaReadsAMultiObjectiveStudysParetoFront(backend: StoreBackend) throws {
        let path = try backend.freshLocation()
        try PythonEnvironment.run(BPFreeProcess.binary, ["tune", "--algorithm", "mf", "--architecture", "mlp:16", "--dataset", "synthetic:samples=600,classes=3,shape=8x8",
                                                         "--epochs", "2", "--trials", "12", "--threads", "1", "--study", "mo", "--store", path,
                                                         "--objectives", "validation_accuracy,energy_joules"])
        let read = try Self.check(store: path, study: "mo", trials: 12, directions: "maximize,minimize")
        #expect(read["directions"] as? [String] == ["maximize", "minimize"])
        #expect(read["metric_names"] as? [String] == ["validation_accuracy", "energy_joules"])
        let store = try ResultsStore(location: path)
        let study = try #require(try store.study(named: "mo"))
        #expect(study.objectives.map(\.direction) == [.maximize, .minimize])
        let front = try store.trials(ofStudy: study.id!).paretoFront(study.objectives).map(\.number)
        #expect(!front.isEmpty && read["best_trials"] as? [Int] == front, "\(read)")
        let refused = try BPFreeProcess.run(["tune", "--algorithm", "mf", "--dataset", "synthetic", "--trials", "2", "--store", path,
                                             "--objectives", "validation_accuracy,train_seconds", "--pruner", "median"])
        #expect(refused.status == 64 && refused.errors.contains("--pruner") && refused.errors.contains("multi-objective"), "\(refused.errors)")
    }

    /// `bench --objectives`: every arm's study has both objectives (named for them), and each
    /// arm's final run retrains the knee of its front with the knee trial's parameters.
    @Test func benchRetrainsTheKneeOfEachArmsFront() throws {
        let path = IDXFiles.temporaryFolder() + "/bench.sqlite"
        let (status, errors) = try BPFreeProcess.run(["bench", "--suite", "quick", "--algorithms", "mf", "--datasets", "synthetic:samples=300,classes=3,shape=4x4",
                                                      "--architecture", "mlp:8", "--trials", "4", "--epochs", "1", "--final-epochs", "1", "--seeds", "1",
                                                      "--threads", "1", "--store", path, "--objectives", "validation_accuracy,train_seconds"])
        #expect(status == 0, "\(errors)")
        let store = try ResultsStore(path: path)
        let studies = try store.studies()
        #expect(studies.count == 2 && studies.allSatisfy { $0.name.hasSuffix("-vs-train_seconds") && $0.objectives.count == 2 })
        for study in studies {
            let knee = try #require(try store.trials(ofStudy: study.id!).knee(study.objectives))
            #expect(errors.contains("\(study.name): the knee of its Pareto front of"), "\(errors)")
            let final = try #require(try store.finalRuns(study: study.name).first)
            #expect(final.record.hyperparameters["learning_rate"] == .real(knee.parameters["learning_rate"]!))
        }
    }

    /// `--objectives` takes validation accuracy first and at most one cost, each named.
    @Test(arguments: [("energy_joules", "validation_accuracy first"), ("validation_accuracy,joules", "unknown objective 'joules'"),
                      ("validation_accuracy,energy_joules,train_seconds", "at most one"), ("validation_accuracy,validation_accuracy", "at most one")])
    func refusesObjectivesItCannotOptimise(objectives: String, message: String) throws {
        let result = try BPFreeProcess.run(["tune", "--algorithm", "mf", "--dataset", "synthetic", "--trials", "1",
                                            "--store", IDXFiles.temporaryFolder() + "/s.sqlite", "--objectives", objectives])
        #expect(result.status == 64 && result.errors.contains("--objectives") && result.errors.contains(message), "\(result.errors)")
    }

    /// Failed trials carry no value, a stale trial's retry carries Optuna's retry attributes,
    /// and non-finite intermediate values keep their kind.
    @Test func failuresAndRetriesReadAsOptunasOwn() throws {
        let path = IDXFiles.temporaryFolder() + "/f.sqlite"
        let store = try ResultsStore(path: path)
        let space = SearchDistribution.float(low: 1e-5, high: 1e-2, log: true)
        let id = try store.openStudy(StoredStudy(name: "f", algorithm: "bp", dataset: "synthetic", architecture: "mlp-2x1000",
                                                 sampler: "tpe", samplerSeed: 1, pruner: "none", trialBudget: 2, epochsPerTrial: 2,
                                                 settingsJSON: "{}", createdAt: "2026-12-02T00:00:00Z")).id!
        func claim(_ worker: String, _ now: Double) throws -> FrozenTrial {
            guard case .trial(let trial) = try store.claimTrial(studyID: id, workerID: worker, now: now, staleAfter: 10,
                                                                decide: { _, n in ["lr": (1e-3 * Double(n + 1), space)] }) else {
                throw StoreError(path: path, problem: "no trial to claim")
            }
            return trial
        }
        let diverged = try claim("a", 1000)
        try store.reportIntermediate(trialID: diverged.id, workerID: "a", step: 1, value: .nan)
        try store.finishTrial(trialID: diverged.id, workerID: "a", state: .fail, value: nil, failureReason: "diverged", run: nil, now: 1001)
        let dead = try claim("b", 1002)
        try store.reportIntermediate(trialID: dead.id, workerID: "b", step: 1, value: .infinity)
        let retry = try claim("c", 1030)  // b silent for 28 s: failed, retried by c
        #expect(retry.retryOf == dead.id)
        try store.finishTrial(trialID: retry.id, workerID: "c", state: .complete, value: 0.5, failureReason: nil, run: nil, now: 1031)

        let read = try Self.check(store: path, study: "f", trials: 3)
        #expect(read["states"] as? [String] == ["COMPLETE", "FAIL"])
        #expect((read["values"] as? [Any])?.count == 3)
        let attributes = read["system_attrs"] as? [String: [String: Any]]
        #expect(attributes?["2"]?["failed_trial"] as? Int == 1, "\(read)")
        #expect(attributes?["2"]?["retry_history"] as? [Int] == [1], "\(read)")
        #expect(read["user_attrs"] as? [String] == ["failure_reason", "worker"])
    }

    /// A trial enqueued with Optuna's `enqueue_trial` runs with its parameters; one naming a
    /// parameter the study does not search fails, naming it; the dashboard labels the value
    /// `validation_accuracy` (the study's metric name).
    @Test func enqueuedTrialsRunWithTheirParameters() throws {
        let python = try PythonEnvironment.python(named: "optuna-4.9", packages: Self.packages)
        let path = IDXFiles.temporaryFolder() + "/q.sqlite"
        let tune = ["tune", "--algorithm", "bp", "--architecture", "mlp:8", "--dataset", TuneAndBenchCommandTests.synthetic,
                    "--epochs", "1", "--threads", "1", "--study", "q", "--store", path]
        try PythonEnvironment.run(BPFreeProcess.binary, tune + ["--trials", "1"])
        try PythonEnvironment.run(python, ["-c", """
            import optuna
            study = optuna.load_study(study_name="q", storage="sqlite:///\(path)")
            study.enqueue_trial({"learning_rate": 0.001})
            study.enqueue_trial({"momentum": 0.9})
            """])
        try PythonEnvironment.run(BPFreeProcess.binary, tune + ["--trials", "3"])
        let output = try PythonEnvironment.run(python, ["-c", """
            import json, optuna
            study = optuna.load_study(study_name="q", storage="sqlite:///\(path)")
            trials = study.get_trials(deepcopy=False)
            print(json.dumps({"metric_names": study.metric_names,
                              "trials": [[t.number, t.state.name, t.params, t.user_attrs.get("failure_reason", "")] for t in trials]}))
            """])
        let read = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any], "\(output)")
        #expect(read["metric_names"] as? [String] == ["validation_accuracy"])
        let trials = try #require(read["trials"] as? [[Any]])
        #expect(trials.count >= 3, "\(trials)")
        let enqueued = trials[1], refused = trials[2]
        // As in Optuna, what the enqueued trial does not fix is sampled (BP also searches weight_decay).
        let parameters = enqueued[2] as? [String: Double]
        #expect(enqueued[1] as? String == "COMPLETE" && parameters?["learning_rate"] == 0.001 && parameters?.keys.sorted() == ["learning_rate", "weight_decay"],
                "\(enqueued)")
        let run = try #require(try ResultsStore(path: path).runs().first { $0.study == "q" && $0.trialNumber == 1 })
        #expect(run.hyperparameters["learning_rate"] == .real(0.001), "the run trained with the enqueued rate")
        #expect(refused[1] as? String == "FAIL" && (refused[3] as? String)?.hasPrefix("enqueued parameters not searched by this study or not numbers: momentum") == true,
                "\(refused)")
    }
}
