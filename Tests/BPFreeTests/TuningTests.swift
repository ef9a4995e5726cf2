import Algorithms
import ArgumentParser
import Experiments
import Reporting
import Training
import Foundation
import Records
import Results
import Testing
import TestSupport
import Tuning
@testable import bpfree

@Suite struct StudyWorkerTests {
    static let space: [(name: String, distribution: SearchDistribution)] = [("learning_rate", .float(low: 1e-5, high: 1e-2, log: true))]

    static func study(budget: Int, pruner: String = "none") -> StoredStudy {
        StoredStudy(name: "toy", algorithm: "bp", dataset: "synthetic", architecture: "mlp-2x1000", sampler: "tpe",
                    samplerSeed: 7, pruner: pruner, trialBudget: budget, epochsPerTrial: 3, settingsJSON: "{}",
                    createdAt: "2026-11-29T00:00:00Z")
    }

    /// A cheap objective: peaked at lr = 1e-3, a few milliseconds per trial.
    static func objective(_ context: TrialContext) throws -> TrialOutcome {
        Thread.sleep(forTimeInterval: 0.005)
        let value = 1 - abs(log10(context.trial.parameters["learning_rate"]!) + 3) / 3
        return TrialOutcome(state: .complete, value: value)
    }

    @Test(arguments: StoreBackend.available)
    func concurrentWorkersNeitherDuplicateNorLoseTrials(backend: StoreBackend) throws {
        let path = try backend.freshLocation()
        let study = try ResultsStore(location: path).openStudy(Self.study(budget: 24))
        let counts = Counts()
        let group = DispatchGroup()
        for index in 0..<3 {
            // Each worker has its own thread and connection, as a worker process would.
            group.enter()
            Thread.detachNewThread {
                let worker = StudyWorker(store: try! ResultsStore(location: path), study: study, space: Self.space,
                                         workerID: "w\(index)", heartbeatInterval: 1)
                counts.add(try! worker.run { context in
                    Thread.sleep(forTimeInterval: 0.02)
                    return try Self.objective(context)
                })
                group.leave()
            }
        }
        group.wait()
        let trials = try ResultsStore(location: path).trials(ofStudy: study.id!)
        #expect(counts.total == 24)
        #expect(trials.map(\.number) == Array(0..<24))
        #expect(trials.allSatisfy { $0.state == .complete && $0.value != nil && $0.parameters.count == 1 })
        #expect(Set(trials.compactMap(\.workerID)).count > 1, "the work was shared")
    }

    /// A trial whose run's process a signal ended before it could record anything (the objective
    /// throws `Interrupted`) is given back to the study, not counted as a failure.
    @Test func aTrialInterruptedBeforeItsRunRecordedIsGivenBack() throws {
        let store = try ResultsStore(path: IDXFiles.temporaryFolder() + "/given-back.sqlite")
        let study = try store.openStudy(Self.study(budget: 3))
        let worker = StudyWorker(store: store, study: study, space: Self.space, workerID: "w", heartbeatInterval: 1)
        var calls = 0
        try worker.run { context in
            calls += 1
            if calls == 1 { throw Interrupted(signal: SIGINT) }
            return try Self.objective(context)
        }
        let trials = try store.trials(ofStudy: study.id!)
        #expect(trials.countedTowardsBudget.count == 3 && trials.countedTowardsBudget.allSatisfy { $0.state == .complete })
        #expect(trials.first?.state == .fail && trials.first?.failureReason?.contains("given back") == true, "\(trials.map(\.failureReason))")
    }

    @Test func thePrunerStopsTrialsBelowTheMedian() throws {
        let path = IDXFiles.temporaryFolder() + "/prune.sqlite"
        let store = try ResultsStore(path: path)
        let study = try store.openStudy(Self.study(budget: 8, pruner: "median"))
        let worker = StudyWorker(store: store, study: study, space: Self.space, workerID: "w", heartbeatInterval: 1)
        // Trials 0–4 report 0.5 at steps 1–3 and complete; later ones report 0.1 and are pruned at step 1.
        try worker.run { context in
            let value = context.trial.number < 5 ? 0.5 : 0.1
            for step in 1...3 {
                if let stop = try context.report(step: step, value: value) {
                    #expect(stop.status == .pruned)
                    return TrialOutcome(state: .pruned, value: context.lastReportedValue, failureReason: stop.reason)
                }
            }
            return TrialOutcome(state: .complete, value: value)
        }
        let trials = try store.trials(ofStudy: study.id!)
        #expect(trials.prefix(5).allSatisfy { $0.state == .complete })
        #expect(trials.dropFirst(5).allSatisfy { $0.state == .pruned && $0.intermediateValues == [1: 0.1] && $0.value == 0.1 })
    }

    @Test func aThrowingObjectiveFailsTheTrialWithItsReasonAndTheStudyGoesOn() throws {
        let store = try ResultsStore(path: IDXFiles.temporaryFolder() + "/fail.sqlite")
        let study = try store.openStudy(Self.study(budget: 3))
        struct Diverged: Error, CustomStringConvertible { var description: String { "diverged: loss is nan" } }
        try StudyWorker(store: store, study: study, space: Self.space, workerID: "w", heartbeatInterval: 1).run { context in
            if context.trial.number == 1 { throw Diverged() }
            return TrialOutcome(state: .complete, value: .nan)
        }
        let trials = try store.trials(ofStudy: study.id!)
        #expect(trials.map(\.state) == [.fail, .fail, .fail])
        #expect(trials[1].failureReason == "diverged: loss is nan")
        #expect(trials[0].failureReason == "the objective is nan")
    }

    /// A real `bpfree tune` process is killed with SIGKILL in the middle of a trial; the next
    /// worker finds its heartbeat stale, fails the trial with the reason and runs it again.
    @Test func aKilledWorkersTrialIsFailedAndRunAgain() throws {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("bpfree").path
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            Issue.record("the bpfree binary is not next to the tests at \(binary)")
            return
        }
        let folder = IDXFiles.temporaryFolder()
        let path = folder + "/killed.sqlite"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["tune", "--algorithm", "bp", "--architecture", "mlp:32", "--dataset",
                             "synthetic:samples=3000,classes=4,shape=8x8", "--epochs", "400", "--patience", "400", "--trials", "2",
                             "--threads", "1", "--study", "killed", "--heartbeat-seconds", "0.5", "--store", path]
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        // Wait until trial 0 has reported an epoch, then kill the process without warning.
        let deadline = Date().addingTimeInterval(120)
        var running: FrozenTrial?
        while Date() < deadline, running == nil {
            Thread.sleep(forTimeInterval: 0.2)
            if FileManager.default.fileExists(atPath: path), let study = try? ResultsStore(path: path).study(named: "killed") {
                running = try ResultsStore(path: path).trials(ofStudy: study.id!).first { $0.state == .running && !$0.intermediateValues.isEmpty }
            }
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let killed = try #require(running, "trial 0 never reported an epoch")

        let store = try ResultsStore(path: path)
        let study = try #require(try store.study(named: "killed"))
        try StudyWorker(store: store, study: study, space: Self.space, workerID: "rescuer", heartbeatInterval: 0.5,
                        staleAfter: 2).run(objective: Self.objective)
        let trials = try store.trials(ofStudy: study.id!)
        #expect(trials.count == 3)
        #expect(trials[0].id == killed.id && trials[0].state == .fail)
        #expect(trials[0].failureReason?.contains("stopped sending heartbeats") == true, "\(trials[0].failureReason ?? "")")
        let retry = try #require(trials.first { $0.retryOf == killed.id })
        #expect(retry.state == .complete && retry.parameters == killed.parameters && retry.workerID == "rescuer")
        #expect(trials.filter { $0.state == .complete }.count == 2)
    }
}

/// The issue's bar on the cluster backend: `bpfree tune --workers 3` on PostgreSQL, one worker
/// process killed with SIGKILL in the middle of a trial. The others fail its trial as stale by
/// the server's clock and run it again; the study ends with its full budget, every trial number
/// once, and Optuna reads it from the server.
@Suite struct PostgreSQLWorkerTests {
    /// A refused connection names the server without the password given.
    @Test(.enabled(if: StoreBackend.available.contains(.postgresql)))
    func aWrongPasswordIsNeverRepeated() throws {
        let server = ProcessInfo.processInfo.environment["BPFREE_TEST_POSTGRES"]!
        var components = try #require(URLComponents(string: server))
        components.password = "Wr0ng-S3cret"
        let command = try RunsCommand.parse(["--store", try #require(components.string)])
        #expect { try command.run() } throws: { error in
            "\(error)".contains("cannot open the results store") && !"\(error)".contains("Wr0ng-S3cret") && "\(error)".contains(":***@")
        }
    }

    @Test(.enabled(if: StoreBackend.available.contains(.postgresql)))
    func aKilledWorkerOfThreeIsRetriedAndTheStudyCompletes() throws {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("bpfree").path
        let location = try StoreBackend.postgresql.freshLocation()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["tune", "--algorithm", "bp", "--architecture", "mlp:32", "--dataset", "synthetic:samples=3000,classes=4,shape=8x8",
                             "--epochs", "40", "--patience", "40", "--trials", "6", "--workers", "3", "--threads", "1",
                             "--study", "killed", "--heartbeat-seconds", "0.5", "--store", location]
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        // Wait for a worker's trial to report an epoch, then kill that worker's process.
        let deadline = Date().addingTimeInterval(120)
        var victim: (pid: Int32, trial: FrozenTrial)?
        while Date() < deadline, victim == nil {
            Thread.sleep(forTimeInterval: 0.2)
            guard let store = try? ResultsStore(location: location), let study = try? store.study(named: "killed"),
                  let running = try? store.trials(ofStudy: study.id!).first(where: { $0.state == .running && !$0.intermediateValues.isEmpty }),
                  let worker = running.workerID, let pid = Int32(worker.split(separator: "-").dropLast().last ?? "") else { continue }
            victim = (pid, running)
        }
        let (pid, killed) = try #require(victim, "no trial reported an epoch")
        // The store URL's password is not on the worker's command line (process listings).
        let commandLine = try String(decoding: Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline")), as: UTF8.self)
        let password = try #require(URLComponents(string: location)?.password)
        #expect(commandLine.contains("--store") && !commandLine.contains(":" + password + "@"), "\(commandLine)")
        #expect(kill(pid, SIGKILL) == 0, "worker \(pid)")
        process.waitUntilExit()

        let store = try ResultsStore(location: location)
        let trials = try store.trials(ofStudy: try #require(try store.study(named: "killed")).id!)
        #expect(trials.map(\.number) == Array(0..<trials.count), "every number once")
        #expect(trials.filter { $0.state == .complete }.count == 6, "the full budget: \(trials.map(\.state))")
        let failed = try #require(trials.first { $0.id == killed.id })
        #expect(failed.state == .fail && failed.failureReason?.contains("stopped sending heartbeats") == true)
        #expect(trials.contains { $0.retryOf == killed.id && $0.state == .complete && $0.parameters == killed.parameters })
        let read = try OptunaCompatibilityTests.check(store: location, study: "killed", trials: trials.count)
        #expect(read["states"] as? [String] == ["COMPLETE", "FAIL"])
    }
}

final class Counts: @unchecked Sendable {
    private let lock = NSLock()
    private var sum = 0
    func add(_ n: Int) { lock.withLock { sum += n } }
    var total: Int { lock.withLock { sum } }
}

@Suite struct TuneAndBenchCommandTests {
    static let synthetic = "synthetic:samples=900,classes=3,shape=6x6"

    @Test(arguments: [
        (["--trials", "0"], "--trials: must be at least 1"),
        (["--workers", "0"], "--workers: must be at least 1"),
        (["--workers", "10000"], "--workers: at most 4 per logical CPU of this machine"),
        (["--threads", "100000"], "--threads: at most the"),
        (["--set", "bp.learning_rate=0.1"], "--set: bp.learning_rate is searched by the study; it cannot also be fixed"),
        (["--set", "bp.nope=1"], "--set: unknown option 'bp.nope' for bp"),
        (["--algorithm", "nope"], "--algorithm: unknown algorithm 'nope'"),
    ])
    func badTuneSettingsNameTheFlag(arguments: [String], message: String) throws {
        do {
            try Tune.parse(arguments).makeSpecification().validate()
            Issue.record("expected \(message)")
        } catch {
            #expect("\(error)".hasPrefix(message), "\(error)")
        }
    }

    /// Two names that differ only in bytes that are not UTF-8 would both arrive as U+FFFD, one
    /// study: such a name is refused, naming the flag, before anything runs.
    @Test func aStudyNameThatIsNotUTF8IsRefused() throws {
        let folder = IDXFiles.temporaryFolder()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "exec \"$0\" tune --study \"$(printf 'a\\377')\" --dataset \(Self.synthetic) --trials 1 --store \(folder)/s.sqlite",
                             BPFreeProcess.binary]
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus != 0 && text.contains("--study: must be valid UTF-8"), "\(text)")
        #expect(!FileManager.default.fileExists(atPath: folder + "/s.sqlite"), "nothing was created")
    }

    /// A study name with a line break or a tab cannot break `bpfree studies`' one line per study.
    @Test func controlCharactersInANameAreEscapedInListings() throws {
        let study = StoredStudy(name: "a\nb\tc\u{1B}", algorithm: "bp", dataset: "fashion-mnist", architecture: "mlp-2x1000", sampler: "tpe",
                                samplerSeed: 1, pruner: "none", trialBudget: 2, epochsPerTrial: 3, settingsJSON: "{}",
                                createdAt: "2026-12-05T00:00:00Z")
        let text = StudyListing.summary(study, trials: [])
        #expect(!text.contains("\n") && text.hasPrefix(#"study a\nb\tc\u{1B}: bp mlp-2x1000"#), "\(text)")
        #expect(printable("Zürich ü") == "Zürich ü")
    }

    /// The best parameters are printed as `--set` takes them: a variant's under its base prefix.
    @Test func theBestParametersArePrintedAsSetTakesThem() throws {
        let study = StoredStudy(name: "s", algorithm: "cafo-rand-ce", dataset: "fashion-mnist", architecture: "cnn-3block", sampler: "tpe",
                                samplerSeed: 1, pruner: "none", trialBudget: 2, epochsPerTrial: 3, settingsJSON: "{}",
                                createdAt: "2026-12-05T00:00:00Z")
        let trials = [FrozenTrial(id: 1, number: 0, state: .complete, value: 0.8, parameters: ["learning_rate": 0.001, "weight_decay": 1e-6])]
        let line = try #require(StudyListing.summary(study, trials: trials).split(separator: "\n").last)
        #expect(line.hasSuffix("with --set cafo.learning_rate=0.001 --set cafo.weight_decay=1e-06"), "\(line)")
        let options = try RunConfiguration.options(parsing: ["cafo.learning_rate=0.001", "cafo.weight_decay=1e-06"])
        _ = try AlgorithmRegistry.hyperparameters(for: "cafo-rand-ce", options: options)
    }

    @Test func tuneRecordsTrialsWithTheirRunsAndResumesWithoutRepeatingThem() throws {
        let store = IDXFiles.temporaryFolder() + "/tune.sqlite"
        let arguments = ["--algorithm", "mf", "--architecture", "mlp:16,16", "--dataset", Self.synthetic, "--epochs", "2",
                         "--trials", "3", "--threads", "1", "--store", store]
        try Tune.parse(arguments).run()
        let results = try ResultsStore(path: store)
        let study = try #require(try results.studies().first)
        #expect(study.name == "mf-\(Self.synthetic)-mlp-2x16-e2-s1")
        #expect(study.samplerSeed == Int64(StudySampler.seed(studyName: study.name, baseSeed: 1)))
        var trials = try results.trials(ofStudy: study.id!)
        #expect(trials.count == 3 && trials.allSatisfy { $0.state == .complete && $0.runID != nil })
        #expect(trials.allSatisfy { $0.intermediateValues.count == 4 }, "2 layers × 2 epochs, one step each")
        let runs = try results.runs()
        #expect(runs.count == 3 && runs.allSatisfy { $0.role == .trial && $0.study == study.name })
        #expect(runs.map(\.trialNumber) == [0, 1, 2])
        // Each trial's run used its parameters.
        for (trial, run) in zip(trials, runs) {
            #expect(run.hyperparameters["learning_rate"] == .real(trial.parameters["learning_rate"]!), "\(run.hyperparameters)")
        }
        // Raising the budget resumes the study: only the new trials run.
        try Tune.parse(arguments.dropLast(4) + ["--trials", "4", "--threads", "1", "--store", store]).run()
        trials = try results.trials(ofStudy: study.id!)
        #expect(trials.count == 4)
        #expect(try results.runs().count == 4)
    }

    @Test func quickBenchOnSyntheticDataTunesEveryArmAlikeAndSkipsFinishedWork() throws {
        let store = IDXFiles.temporaryFolder() + "/bench.sqlite"
        let arguments = ["--suite", "quick", "--algorithms", "ff,mf,dfa,cafo-rand-ce", "--datasets", Self.synthetic,
                         "--architecture", "mlp:16,16", "--architecture", "cnn:4,8", "--trials", "2",
                         "--epochs", "2", "--final-epochs", "2", "--seeds", "2", "--threads", "1", "--store", store]
        try Bench.parse(arguments).run()
        let results = try ResultsStore(path: store)
        let studies = try results.studies()
        // FF, BP on the MLP (shared by the three MLP comparisons: identical architecture), MF, DFA
        // and its shallow control; CaFo-Rand-CE and BP on the CNN (the quick suite leaves CaFo-DFA out).
        #expect(studies.map { "\($0.algorithm) \($0.architecture)" }.sorted() == [
            "bp cnn:4,8", "bp mlp-2x16", "cafo-rand-ce cnn:4,8", "dfa mlp-2x16", "ff mlp-2x16", "mf mlp-2x16", "shallow mlp-2x16"])
        // Fairness by construction: the same budget, epochs and pruning everywhere; distinct sampler seeds.
        #expect(Set(studies.map(\.trialBudget)) == [2] && Set(studies.map(\.epochsPerTrial)) == [2] && Set(studies.map(\.pruner)) == ["none"])
        #expect(Set(studies.map(\.samplerSeed)).count == 7)
        for study in studies {
            #expect(try results.trials(ofStudy: study.id!).filter { $0.state.isFinished }.count == 2, "\(study.name)")
            let finals = try results.finalRuns(study: study.name)
            #expect(finals.map(\.seed) == [2, 3], "\(study.name): the same distinct seeds on every arm")
            #expect(finals.allSatisfy { $0.comparison == "\(Self.synthetic)/\(study.architecture)" && $0.status == .completed })
        }
        let count = try results.runs().count
        #expect(count == 7 * 2 + 7 * 2)
        // Again: everything is in the store, nothing runs.
        try Bench.parse(arguments).run()
        #expect(try results.runs().count == count)
    }
}

@Suite struct TrainingProtocolTests {
    static func rules(_ algorithm: String, _ dataset: String, _ architecture: String, base: StoppingRule = .harmonized) -> SeedPaper {
        try! TrainingProtocol.seedPaper.rules(algorithm: algorithm, dataset: dataset, architecture: try! Architecture(parsing: architecture),
                                              options: [:], base: base)
    }

    @Test func harmonizedIsTheSameRuleForEveryArm() throws {
        for algorithm in ["bp", "ff", "mf", "cafo-dfa-ce"] {
            let rules = try TrainingProtocol.harmonized.rules(algorithm: algorithm, dataset: "fashion-mnist", architecture: .mlp(hiddenWidths: [10]),
                                                              options: [:], base: .harmonized)
            #expect(rules.stopping == .harmonized && rules.stages.isEmpty && rules.restore == .best && rules.stageRestore.isEmpty)
            #expect(rules.defaults.isEmpty)
        }
    }

    /// Each algorithm's declaration of what the study's code did (issue: a faithful seed-paper).
    @Test func seedPaperFollowsWhatTheStudysCodeDid() {
        // FF compares accuracy in percent with min_delta 0.01: 0.0001 on the 0–1 scale.
        let ff = Self.rules("ff", "fashion-mnist", "mlp-4x2000")
        #expect(ff.stopping == StoppingRule(patience: 20, minDelta: 1e-4, maxEpochs: 100, monitor: .validationAccuracy))
        #expect(ff.restore == .bestValidationAccuracy && ff.defaults["ff.readout_learning_rate"] == "0.011120232890144957")
        // ...starts as its FF_MLP (N(0, 1/fan_out)) and trains the unused downstream classifier.
        #expect(ff.defaults["ff.init"] == "study" && ff.defaults["ff.train_readout"] == "always")
        // MF: each layer capped at epochs_per_layer (12 on Fashion-MNIST), its last weights kept.
        let mf = Self.rules("mf", "fashion-mnist", "mlp-2x1000")
        #expect(mf.stopping == StoppingRule(patience: 10, minDelta: 1e-4, maxEpochs: 12) && mf.restore == .last)
        #expect(mf.defaults == ["mf.learning_rate": "0.0003873086262136253", "mf.weight_decay": "0", "mf.input_projection": "trained"])
        #expect(Self.rules("mf", "cifar10", "mlp-3x2000").stopping.patience == 4)
        // BP: stops on validation loss, tests the best validation accuracy, its tuned AdamW values.
        let bp = Self.rules("bp", "fashion-mnist", "mlp-2x1000")
        #expect(bp.stopping == StoppingRule(patience: 10, minDelta: 0, maxEpochs: 100) && bp.restore == .bestValidationAccuracy)
        #expect(bp.defaults == ["bp.learning_rate": "0.00021316290979390737", "bp.weight_decay": "2.7122805865833542e-05", "bp.init": "study"])
        // Its networks: MF_MLP for 2x1000 and 3x2000, plain PyTorch layers for FF_MLP's 4x2000, CaFo_CNN for the CNN.
        #expect(Self.rules("bp", "fashion-mnist", "mlp-4x2000").defaults["bp.init"] == "pytorch")
        #expect(Self.rules("bp", "cifar100", "cnn-3block").defaults["bp.init"] == "study")
        #expect(Self.rules("bp", "mnist", "mlp-4x2000").stopping.patience == 40)
        #expect(Self.rules("bp", "cifar10", "cnn-3block").stopping.patience == 40)
        // CaFo: predictors keep their last epoch; DFA blocks run a fixed number of epochs.
        let cafo = Self.rules("cafo-dfa-ce", "fashion-mnist", "cnn-3block")
        #expect(cafo.stages["predictor"] == StoppingRule(patience: 6, minDelta: 1e-3, maxEpochs: 85) && cafo.restore == .last)
        #expect(cafo.stages["blocks"] == StoppingRule(patience: 15, minDelta: 0, maxEpochs: 15, monitor: .none))
        #expect(cafo.defaults["cafo.block_learning_rate"] == "0.0001384690524742107")
        #expect(cafo.defaults["cafo.init"] == "study" && cafo.defaults["cafo.bn_epsilon"] == "1e-05" && cafo.defaults["cafo.bn_statistics"] == nil)
        // Frozen random blocks: BatchNorm kept the constructor's running statistics.
        #expect(Self.rules("cafo-rand-ce", "fashion-mnist", "cnn-3block").defaults["cafo.bn_statistics"] == "initial")
        #expect(Self.rules("cafo-rand-ce", "mnist", "cnn-3block").stages == ["predictor": StoppingRule(patience: 8, minDelta: 5e-4, maxEpochs: 100)])
        // Fashion-MNIST Rand: its config's stopping keys were not read; the code's defaults ran.
        #expect(Self.rules("cafo-rand-ce", "fashion-mnist", "cnn-3block").stopping == StoppingRule(patience: 10, minDelta: 0, maxEpochs: 100))
        // A smaller --epochs still caps every unit; an algorithm the study did not run keeps the harmonized rules.
        #expect(Self.rules("cafo-dfa-ce", "cifar10", "cnn-3block", base: StoppingRule(patience: 20, minDelta: 0, maxEpochs: 3)).stages["blocks"]!.maxEpochs == 3)
        #expect(Self.rules("dfa", "fashion-mnist", "mlp-2x1000").stopping == .harmonized)
    }

    /// The issue's bar, on Fashion-MNIST-format files: MF under seed-paper without --epochs runs
    /// at most 12 epochs per layer and tests each layer's last weights, and says so per stage.
    @Test func seedPaperMFCapsEachLayerAndKeepsItsLastWeights() throws {
        let folder = IDXFiles.temporaryFolder()
        IDXFiles.writeDataset(to: folder, train: 600, test: 100)
        try Train.parse(["--algorithm", "mf", "--architecture", "mlp:16,16", "--dataset", "fashion-mnist", "--data-dir", folder,
                         "--protocol", "seed-paper", "--patience", "50", "--threads", "1", "--no-store", "--output", folder + "/mf.json"]).run()
        let record = try RunRecord.decoded(from: Data(contentsOf: URL(fileURLWithPath: folder + "/mf.json")))
        #expect(record.hyperparameters["learning_rate"] == .real(3.873086262136253e-4))
        #expect(record.stages.map(\.name) == ["input", "layer1", "layer2"], "M0 first, as the study's code")
        for stage in record.stages {
            #expect(stage.epochs <= 12 && stage.stopping == RunRecord.Stopping(monitor: "val_loss", patience: 10, minDelta: 1e-4, maxEpochs: 12))
            #expect(stage.restore == "last" && stage.restoredEpoch == stage.epochs, "\(stage)")
        }
    }

    @Test func aSeedPaperRunRecordsItsRulesAndTheAuditFlagsTheMix() throws {
        let folder = IDXFiles.temporaryFolder()
        IDXFiles.writeDataset(to: folder, train: 300, test: 60)
        #expect(throws: ValidationError.self, "the study ran no synthetic data") {
            try Train.parse(["--algorithm", "mf", "--dataset", "synthetic", "--protocol", "seed-paper", "--no-store"]).run()
        }
        for algorithm in ["cafo-dfa-ce", "bp"] {
            try Train.parse(["--algorithm", algorithm, "--architecture", "cnn:3,6", "--dataset", "fashion-mnist", "--data-dir", folder,
                             "--epochs", "4", "--threads", "1",
                             "--protocol", algorithm == "bp" ? "harmonized" : "seed-paper", "--store", folder + "/s.sqlite",
                             "--output", folder + "/\(algorithm).json"]).run()
        }
        let record = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/cafo-dfa-ce.json"))) as! [String: Any]
        #expect(record["protocol"] as? String == "seed-paper")
        let stages = record["stages"] as! [[String: Any]]
        #expect(stages[0]["name"] as? String == "blocks" && stages[0]["epochs"] as? Int == 4, "fixed block epochs, capped by --epochs")
        #expect((record["stage_stopping"] as? [String: Any])?["blocks"] != nil)
        // Runs of different protocols are different comparisons, never one: the seed-paper CaFo
        // run stands apart, and the audit says it has no BP run to be compared with.
        let data = try ReportData(store: try ResultsStore(path: folder + "/s.sqlite"))
        #expect(data.comparisons.map(\.name) == ["fashion-mnist/cnn:3,6 (protocol harmonized)", "fashion-mnist/cnn:3,6 (protocol seed-paper)"],
                "\(data.comparisons.map(\.name))")
        let seedPaper = try #require(data.comparisons.last)
        #expect(seedPaper.arms.map(\.algorithm) == ["cafo-dfa-ce"])
        let findings = FairnessAudit.findings(in: seedPaper, allStudies: data.studies)
        #expect(findings.contains { $0.kind == "baseline" }, "\(findings)")
    }
}

extension TuneAndBenchCommandTests {
    /// The issue's bar on Fashion-MNIST-format files: the seed-paper suite runs the study's
    /// MF and BP 2x1000 untuned with seeds 42–44, and the report sets the study's rows beside them.
    @Test func theSeedPaperSuiteRunsTheStudysConfigurationsBesideItsFigures() throws {
        let folder = IDXFiles.temporaryFolder()
        IDXFiles.writeDataset(to: folder, train: 400, test: 60)
        let store = folder + "/sp.sqlite"
        try Bench.parse(["--suite", "seed-paper", "--datasets", "fashion-mnist", "--algorithms", "mf", "--data-dir", folder,
                         "--threads", "1", "--store", store]).run()
        let runs = try ResultsStore(path: store).runs().filter { $0.role == .final }
        #expect(Set(runs.map(\.algorithm)) == ["mf", "bp"] && runs.count == 6)
        #expect(runs.allSatisfy { [42, 43, 44].contains($0.seed) && $0.trainingProtocol == .seedPaper && $0.architecture == "mlp-2x1000" })
        // The study's values, not a tuned trial's.
        #expect(runs.filter { $0.algorithm == "bp" }.allSatisfy { $0.hyperparameters["learning_rate"] == .real(2.1316290979390737e-4) })
        #expect(try ResultsStore(path: store).studies().isEmpty, "no tuning study")
        try ReportCommand.parse(["--store", store, "--out", folder + "/report"]).run()
        let tables = try String(contentsOfFile: folder + "/report/tables.md", encoding: .utf8)
        #expect(tables.contains("### The study beside bpfree (seed-paper) — fashion-mnist/mlp-2x1000"))
        #expect(tables.contains("| mf | 89.72 ± 0.11 |") && tables.contains("| bp | 89.21 ± 0.50 |"))
        #expect(tables.contains("matches no set of runs in the study's logs"), "the anomaly is a note")
        // Running it again finds every run in the store.
        try Bench.parse(["--suite", "seed-paper", "--datasets", "fashion-mnist", "--algorithms", "mf", "--data-dir", folder,
                         "--threads", "1", "--store", store]).run()
        #expect(try ResultsStore(path: store).runs().filter { $0.role == .final }.count == 6)
    }

    /// The scaling suite: each point of MF's curve (training-set sizes at mlp-2x1000, widths at
    /// 6,000 samples) with 2 seeds, no BP baseline; the report fits time ∝ work^k.
    @Test func theScalingSuiteFitsTimeAgainstWork() throws {
        let (_, arms) = try Bench.parse(["--suite", "scaling", "--algorithms", "mf"]).makeBenchmark()
        #expect(arms.map(\.comparison) == ["scaling:fashion-mnist/mlp-2x1000/n6000", "scaling:fashion-mnist/mlp-2x1000/n12000",
                                            "scaling:fashion-mnist/mlp-2x1000/n24000", "scaling:fashion-mnist/mlp-2x1000/n54000",
                                            "scaling:fashion-mnist/mlp-2x250/n6000", "scaling:fashion-mnist/mlp-2x500/n6000",
                                            "scaling:fashion-mnist/mlp-2x2000/n6000", "scaling:fashion-mnist/mlp-2x4000/n6000"])
        #expect(arms.allSatisfy { $0.study.algorithm == "mf" && $0.finalEpochs == 3 })
        let folder = IDXFiles.temporaryFolder(), store = folder + "/scaling.sqlite"
        try Bench.parse(["--suite", "scaling", "--algorithms", "mf", "--datasets", "synthetic:samples=300,classes=3,shape=6x6",
                         "--threads", "1", "--store", store]).run()
        let runs = try ResultsStore(path: store).runs()
        #expect(runs.count == 16 && runs.allSatisfy { $0.comparison?.hasPrefix("scaling:synthetic") == true && $0.role == .final })
        let data = try ReportData(store: try ResultsStore(path: store))
        #expect(data.comparisons.isEmpty && data.scaling.count == 16)
        let fits = Scaling.fits(data.scaling)
        #expect(fits.count == 1 && fits[0].algorithm == "mf" && fits[0].points == 16 && fits[0].exponent.isFinite)
        try ReportCommand.parse(["--store", store, "--out", folder + "/report"]).run()
        let tables = try String(contentsOfFile: folder + "/report/tables.md", encoding: .utf8)
        #expect(tables.contains("## Scaling") && tables.contains("mf: training time ∝ work^") && tables.contains("| mf | 16 |"))
        #expect(try String(contentsOfFile: folder + "/report/report.html", encoding: .utf8).contains("Scaling — training time against work (log-log)"))
    }

    /// A fit on known points: time = 2·work^0.8 gives k = 0.8, R² = 1.
    @Test func theFittedExponentIsTheLogLogSlope() {
        let runs = [1e9, 1e10, 1e11, 1e12].enumerated().map { i, flops -> StoredRun in
            var record = RunRecord.example(algorithm: "mf", seed: UInt64(i))
            record.trainFlops = Int(flops)
            record.trainSeconds = 2 * pow(flops, 0.8) / 1e7
            return StoredRun(record)
        }
        let fit = Scaling.fits(runs)
        #expect(fit.count == 1 && abs(fit[0].exponent - 0.8) < 1e-9 && abs(fit[0].rSquared - 1) < 1e-9)
    }

    /// The quick suite gives FF's comparison a budget in which FF learns: both of its arms on
    /// mlp-4x500 with batches of 20 and 8 epochs; every other arm has the suite's 3.
    @Test func theQuickSuiteGivesEachComparisonOneBudgetForBothArms() throws {
        let (benchmark, arms) = try Bench.parse(["--suite", "quick"]).makeBenchmark()
        // Every declared quick comparison, with its baseline and its control on the same network, each arm once.
        let names = arms.map { "\($0.comparison) \($0.study.algorithm)" }
        for comparison in benchmark.suite.comparisons {
            let architecture = try Architecture(parsing: comparison.architecture).description
            let descriptor = try AlgorithmRegistry.descriptor(for: comparison.algorithm)
            for id in [comparison.algorithm, descriptor.baseline, descriptor.control].compactMap({ $0 }) {
                #expect(names.contains("fashion-mnist/\(architecture) \(id)"), "\(id) on \(architecture): \(names)")
            }
        }
        #expect(Set(names).count == names.count && names.contains("fashion-mnist/mlp-4x500 ff"))
        for arm in arms {
            let ff = arm.comparison.hasSuffix("mlp-4x500")
            #expect(arm.study.stopping.maxEpochs == (ff ? 8 : 3) && arm.finalEpochs == (ff ? 8 : 3), "\(arm.study.name)")
            #expect(arm.study.options["\(try AlgorithmRegistry.algorithm(arm.study.algorithm).id).batch_size"] == (ff ? "20" : nil))
            #expect(benchmark.finalConfiguration(of: arm, parameters: [:], seed: 2).stopping.maxEpochs == (ff ? 8 : 3))
        }
        // --epochs sets every comparison's budget.
        #expect(try Bench.parse(["--suite", "quick", "--epochs", "2"]).makeBenchmark().1.allSatisfy { $0.study.stopping.maxEpochs == 2 })
    }

    @Test(arguments: [
        (["--suite", "nope"], "--suite: unknown suite 'nope'; valid: full, quick, seed-paper"),
        (["--suite", "seed-paper", "--protocol", "harmonized"], "--protocol: the seed-paper suite runs under seed-paper, not harmonized"),
        (["--suite", "seed-paper", "--trials", "3"], "--trials: the seed-paper suite does not tune"),
        (["--algorithms", "bp"], "--algorithms: the quick suite has no comparison of 'bp' against BP"),
        (["--trials", "0"], "--trials: must be at least 1"),
        (["--datasets", "cifar10"], "--datasets: no comparison of the suite runs on cifar10"),
    ])
    func badBenchSettingsNameTheFlag(arguments: [String], message: String) {
        do {
            _ = try Bench.parse(arguments).makeBenchmark()
            Issue.record("expected \(message)")
        } catch {
            #expect("\(error)".hasPrefix(message), "\(error)")
        }
    }
}

/// `--launcher slurm`: the job script, and a real array on a one-node cluster.
@Suite struct SlurmLauncherTests {
    /// A failure while running (here sbatch cannot be found) is one error line and status 1,
    /// without the usage text that a mistyped flag gets.
    @Test func aRuntimeFailureIsOneLineWithoutUsage() throws {
        let folder = IDXFiles.temporaryFolder()
        let (status, text) = try BPFreeProcess.run(["tune", "--launcher", "slurm", "--algorithm", "bp", "--architecture", "mlp:8",
                                                     "--dataset", TuneAndBenchCommandTests.synthetic, "--trials", "1", "--epochs", "1",
                                                     "--threads", "1", "--store", folder + "/s.sqlite", "--slurm-dir", folder + "/jobs"],
                                                    environment: ["PATH": folder, "HOME": folder])
        #expect(status == 1, "\(text)")
        #expect(text.contains("Error: --launcher slurm: sbatch failed (status 127)") && !text.contains("Usage:"), "\(text)")
    }

    /// Values that would end their #SBATCH line, and time limits sbatch would reject, are
    /// refused by flag before anything is written or submitted.
    @Test(arguments: [(["--partition", "cpu\nrm -rf /"], "--partition: \"cpu\\nrm -rf /\" contains a line break"),
                      (["--partition", "cpu;reboot"], "--partition: \"cpu;reboot\" is not a SLURM partition name"),
                      (["--time", "01:00:00\n#SBATCH --x"], "--time: \"01:00:00\\n#SBATCH --x\" contains a line break"),
                      (["--time", "garbage"], "--time: \"garbage\" is not a SLURM time limit"),
                      (["--slurm-dir", "jobs\r\nx"], "--slurm-dir: \"jobs\\r\\nx\" contains a line break"),
                      (["--sbatch=--mem=8G\nrm"], "--sbatch: \"--mem=8G\\nrm\" contains a line break")])
    func valuesThatWouldBreakTheJobScriptAreRefused(arguments: [String], message: String) throws {
        let options = try LauncherOptions.parse(["--launcher", "slurm"] + arguments)
        #expect { try options.validate(workers: 1, threads: 1) } throws: { "\($0)".hasPrefix(message) }
    }

    @Test(arguments: ["30", "30:00", "02:00:00", "1-12", "1-12:30", "1-12:30:00", "UNLIMITED"])
    func everySlurmTimeFormatIsAccepted(time: String) throws {
        try LauncherOptions.parse(["--launcher", "slurm", "--time", time, "--partition", "gpu-a100,cpu"]).validate(workers: 1, threads: 1)
    }

    @Test func theJobScriptRunsOrdinaryWorkersWithoutThePassword() throws {
        let options = try LauncherOptions.parse(["--launcher", "slurm", "--partition", "gpu", "--time", "02:00:00",
                                                 "--cpus-per-task", "4", "--sbatch=--mem=8G", "--sbatch=--account=lab"])
        let arguments = ["tune", "--algorithm", "mf", "--study", "it's mine", "--launcher", "slurm", "--array-size", "3", "--workers", "2",
                         "--partition", "gpu", "--dry-run", "--store", "postgresql://lab:s3cret@db:5432/bpfree"]
        let (worker, password) = TuneProcesses.withoutPassword(SlurmLauncher.workerArguments(from: arguments))
        #expect(password == "s3cret")
        let script = SlurmLauncher(options: options, tasks: 3, threads: 2).script(study: "it's mine", workerArguments: worker, folder: "/jobs/x")
        let lines = script.split(separator: "\n").map(String.init)
        #expect(Array(lines.prefix(9)) == ["#!/bin/bash", "#SBATCH --job-name=bpfree-it_s_mine", "#SBATCH --array=0-2",
                                           "#SBATCH --cpus-per-task=4", "#SBATCH --output=/jobs/x/task-%A_%a.out",
                                           "#SBATCH --partition=gpu", "#SBATCH --time=02:00:00", "#SBATCH --mem=8G", "#SBATCH --account=lab"])
        #expect(lines.last?.hasSuffix("tune --algorithm mf --study 'it'\\''s mine' --store postgresql://lab@db:5432/bpfree --as-worker") == true,
                "\(lines.last ?? "")")
        #expect(!script.contains("s3cret") && !script.contains("--dry-run") && !script.contains("--launcher"))
        #expect(throws: ValidationError.self) { try LauncherOptions.parse(["--dry-run"]).validate(workers: 1, threads: 1) }
    }

    /// The issue's bar: a SLURM array of 3 `bpfree tune` workers on one study completes.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["BPFREE_TEST_SLURM"] != nil))
    func anArrayOfThreeWorkersCompletesTheStudy() throws {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("bpfree").path
        let folder = IDXFiles.temporaryFolder()
        let store = folder + "/slurm.sqlite"
        let output = try PythonEnvironment.run(binary, ["tune", "--algorithm", "bp", "--architecture", "mlp:16", "--dataset", "synthetic",
                                                        "--trials", "6", "--epochs", "2", "--threads", "1", "--study", "array",
                                                        "--launcher", "slurm", "--array-size", "3", "--slurm-dir", folder + "/jobs",
                                                        "--store", store])
        #expect(output.contains("budget 6: 6 complete"), "\(output)")
        let results = try ResultsStore(path: store)
        let trials = try results.trials(ofStudy: try #require(try results.study(named: "array")).id!)
        #expect(trials.map(\.number) == Array(0..<6))
        #expect(Set(trials.compactMap(\.workerID)).count >= 2, "the array's tasks shared the study")
        let logs = try FileManager.default.subpathsOfDirectory(atPath: folder + "/jobs").filter { $0.hasSuffix(".out") }
        #expect(logs.count == 3, "\(logs)")
    }

    /// SIGTERM to the launching command cancels the array; its running tasks give their trials
    /// back; the same command again completes the study.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["BPFREE_TEST_SLURM"] != nil))
    func anInterruptedArrayGivesItsTrialsBack() throws {
        let folder = IDXFiles.temporaryFolder()
        let store = folder + "/slurm.sqlite"
        let arguments = ["tune", "--algorithm", "bp", "--architecture", "mlp:128,128", "--dataset", "synthetic:samples=6000,classes=3,shape=16x16",
                         "--trials", "3", "--epochs", "40", "--patience", "40", "--threads", "1", "--study", "cancelled",
                         "--launcher", "slurm", "--array-size", "2", "--slurm-dir", folder + "/jobs", "--store", store]
        let launcher = try BPFreeProcess(arguments, log: folder + "/first.log")
        defer { launcher.kill() }
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, !launcher.output.contains("tasks queued or running; trials: 2 running") { Thread.sleep(forTimeInterval: 0.2) }
        launcher.signal(SIGTERM)
        #expect(launcher.exitStatus(within: 60) == 128 + SIGTERM, "\(launcher.output)")
        #expect(launcher.output.contains("cancelling SLURM job array"))
        let results = try ResultsStore(path: store)
        let id = try #require(try results.study(named: "cancelled")).id!
        var trials = try results.trials(ofStudy: id)
        #expect(!trials.contains { $0.state == .running }, "every running trial was given back: \(trials.map(\.state))")
        #expect(trials.contains { $0.failureReason == "interrupted by SIGTERM; given back and retried" })
        let again = try BPFreeProcess(arguments, log: folder + "/second.log")
        defer { again.kill() }
        #expect(again.exitStatus(within: 120) == 0, "\(again.output)")
        trials = try results.trials(ofStudy: id)
        #expect(trials.countedTowardsBudget.count == 3 && trials.countedTowardsBudget.allSatisfy { $0.state == .complete })
    }

    /// `bpfree bench --launcher slurm`: each arm's study is tuned by its own SLURM array, then the
    /// launching command retrains the best configurations; every trial and final run is stored once.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["BPFREE_TEST_SLURM"] != nil))
    func benchTunesEveryArmWithAnArray() throws {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("bpfree").path
        let folder = IDXFiles.temporaryFolder()
        let store = folder + "/bench.sqlite"
        let output = try PythonEnvironment.run(binary, ["bench", "--suite", "quick", "--datasets", TuneAndBenchCommandTests.synthetic,
                                                        "--algorithms", "mf", "--architecture", "mlp:16", "--trials", "4", "--epochs", "2",
                                                        "--final-epochs", "2", "--seeds", "2", "--threads", "1",
                                                        "--launcher", "slurm", "--array-size", "2", "--slurm-dir", folder + "/jobs",
                                                        "--store", store])
        let results = try ResultsStore(path: store)
        let studies = try results.studies()
        #expect(studies.map(\.algorithm).sorted() == ["bp", "mf"], "\(output)")
        for study in studies {
            let trials = try results.trials(ofStudy: study.id!)
            #expect(trials.map(\.number) == Array(0..<4) && trials.allSatisfy { $0.state == .complete }, "\(study.name)")
            #expect(try results.finalRuns(study: study.name).map(\.seed) == [2, 3], "\(study.name)")
        }
        #expect(try results.runs().count == 2 * 4 + 2 * 2)
        let logs = try FileManager.default.subpathsOfDirectory(atPath: folder + "/jobs").filter { $0.hasSuffix(".out") }
        #expect(logs.count == 2 * 2, "one log per task of each arm's array: \(logs)")
    }
}
