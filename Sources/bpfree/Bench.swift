import Algorithms
import ArgumentParser
import CUDA
import Experiments
import Foundation
import Records
import Reporting
import Results
import TensorCore
import Tuning

/// `bpfree bench`: a suite of fair comparisons, tuned and retrained, all in the results store;
/// running it again continues where it stopped.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a suite of comparisons (protocol §1): tune every arm alike, retrain the best with distinct seeds; resumable.")

    @Option(help: "Suite: \(Benchmark.Suite.all.map(\.name).joined(separator: ", ")) (quick: Fashion-MNIST, 6,000 samples, 3 trials of 3 epochs, 2 seeds, FF vs BP on mlp-4x500 with batch 20 and 8 epochs, no CaFo-DFA; seed-paper: the study's configurations, its tuned values and seeds 42–44, untuned, beside its published figures; scaling: each MLP algorithm untuned on 6k–54k samples and widths 250–4000, 3 epochs, 2 seeds, time ∝ work^k fitted).")
    var suite = "quick"

    @Option(help: ArgumentHelp("Only these datasets (comma-separated); a synthetic:... dataset stands in for every comparison's data.", valueName: "list"))
    var datasets: String?

    @Option(help: ArgumentHelp("Only the comparisons of these algorithms against BP (comma-separated).", valueName: "list"))
    var algorithms: String?

    @Option(help: "Replace the architecture of every comparison of the same kind, MLP or CNN (repeatable; both arms keep the identical one; for smoke tests).")
    var architecture: [String] = []

    @Option(help: "Trials per arm (default: the suite's).")
    var trials: Int?

    @Option(help: "Epoch cap per tuning trial (default: the suite's).")
    var epochs: Int?

    @Option(help: "Epoch cap of the final runs (default: the suite's).")
    var finalEpochs: Int?

    @Option(help: "Final runs per arm, with distinct seeds shared by the arms (default: the suite's).")
    var seeds: Int?

    @Option(help: "Use only the first N training samples (default: the suite's).")
    var trainLimit: Int?

    @Option(help: "Base seed: tuning trials use it, final runs use seed+1 … seed+N, samplers derive theirs from it and the study name.")
    var seed: UInt64 = 1

    @Option(help: "Sampler of every arm: tpe or random.")
    var sampler: StudySampler.Kind = .tpe

    @Option(help: "Pruner of every arm: none or median.")
    var pruner: StudySpecification.Pruner = .none

    @Option(help: ArgumentHelp("What every arm's study optimises, as tune --objectives; with a cost, each arm's final runs retrain the knee of its Pareto front.", valueName: "list"))
    var objectives = "validation_accuracy"

    @Option(name: .customLong("protocol"), help: "Stopping rules of every arm: harmonized (default), or seed-paper (the original study's, to reproduce its numbers; the seed-paper suite's own).")
    var trainingProtocol: TrainingProtocol?

    @Option(help: "Worker processes per study (threads default to cores / workers).")
    var workers = 1

    @Option(help: "BLAS and kernel threads of every run (default: cores / workers).")
    var threads: Int?

    @Option(help: ArgumentHelp("Where every run computes: cpu, cuda (the first GPU) or cuda:N.", valueName: "device"))
    var device: Device = .cpu

    @Option(help: ArgumentHelp("cuBLAS's and cuDNN's math on a GPU: fp32, or tf32 (tensor cores, recorded with every run).", valueName: "math"))
    var gpuMath: CUBLAS.Math = .fp32

    @Option(help: "Folder with the dataset files.")
    var dataDir: String?

    @OptionGroup var storeOption: StoreOption

    @OptionGroup var launch: LauncherOptions

    @OptionGroup var models: ModelsOption

    func makeBenchmark() throws -> (Benchmark, [Benchmark.Arm]) {
        guard var chosen = Benchmark.Suite.all.first(where: { $0.name == suite }) else {
            throw ConfigurationError(field: "--suite", problem: "unknown suite '\(suite)'; valid: \(Benchmark.Suite.all.map(\.name).joined(separator: ", "))")
        }
        let positive: [(String, Int?)] = [("--trials", trials), ("--epochs", epochs), ("--final-epochs", finalEpochs),
                                          ("--seeds", seeds), ("--train-limit", trainLimit), ("--workers", workers), ("--threads", threads)]
        for (flag, value) in positive {
            if let value, value < 1 { throw ConfigurationError(field: flag, problem: "must be at least 1, got \(value)") }
        }
        let list = { (text: String?) in text?.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }
        // A synthetic specification has commas of its own: key=value items belong to the one before.
        let datasetList = list(datasets)?.reduce(into: [String]()) { items, item in
            if item.contains("="), !item.hasPrefix("synthetic"), !items.isEmpty { items[items.count - 1] += "," + item } else { items.append(item) }
        }
        let synthetic = datasetList?.filter { $0.hasPrefix("synthetic") } ?? []
        let replacements = try architecture.map { try Architecture(parsing: $0).description }
        chosen.comparisons = chosen.comparisons.map { comparison in
            var comparison = comparison
            comparison.datasets += synthetic
            let kind = comparison.architecture.prefix(3)
            if let replacement = replacements.last(where: { $0.hasPrefix(kind) }) {
                // Every comparison of the kind now shares one architecture, so one BP baseline: each
                // algorithm keeps its own batch.
                comparison.architecture = replacement
                comparison.batchSize = nil
            }
            if epochs != nil || finalEpochs != nil { comparison.epochs = nil }  // the flags set every comparison's budget
            return comparison
        }
        if !chosen.isTuned, trials != nil || epochs != nil {
            throw ConfigurationError(field: trials != nil ? "--trials" : "--epochs", problem: "the \(chosen.name) suite does not tune; its arms run with the study's values")
        }
        chosen.trials = trials ?? chosen.trials
        chosen.epochs = epochs ?? chosen.epochs
        chosen.finalEpochs = finalEpochs ?? chosen.finalEpochs
        chosen.seeds = seeds ?? chosen.seeds
        chosen.trainLimit = trainLimit ?? chosen.trainLimit
        var benchmark = Benchmark(suite: chosen, seed: seed,
                                  threads: threads ?? max(1, ProcessInfo.processInfo.activeProcessorCount / workers))
        benchmark.sampler = sampler
        benchmark.pruner = pruner
        benchmark.device = device
        benchmark.gpuMath = gpuMath
        if gpuMath != .fp32, device == .cpu {
            throw ConfigurationError(field: "--gpu-math", problem: "\(gpuMath.name) is cuBLAS's and cuDNN's math on a GPU; these runs compute on the CPU (--device cuda)")
        }
        benchmark.objectives = try StudySpecification.Objective.list(parsing: objectives)
        if benchmark.objectives.count > 1, !chosen.isTuned {
            throw ConfigurationError(field: "--objectives", problem: "the \(chosen.name) suite does not tune; there is no study to optimise")
        }
        benchmark.dataDirectory = dataDir
        benchmark.models = try models.folder(store: storeOption)
        if let fixed = chosen.trainingProtocol, let trainingProtocol, trainingProtocol != fixed {
            throw ConfigurationError(field: "--protocol", problem: "the \(chosen.name) suite runs under \(fixed.rawValue), not \(trainingProtocol.rawValue)")
        }
        benchmark.trainingProtocol = trainingProtocol ?? chosen.trainingProtocol ?? .harmonized
        let algorithmList = list(algorithms)
        for id in algorithmList ?? [] where !chosen.comparisons.contains(where: { $0.algorithm == id }) {
            throw ConfigurationError(field: "--algorithms", problem: "the \(chosen.name) suite has no comparison of '\(id)' against BP; "
                                     + "it compares \(Set(chosen.comparisons.map(\.algorithm)).sorted().joined(separator: ", "))")
        }
        let (arms, skipped) = benchmark.arms(restrictedTo: datasetList, algorithms: algorithmList)
        for line in skipped { FileHandle.standardError.write(Data("skipped: \(line)\n".utf8)) }
        guard !arms.isEmpty else { throw ConfigurationError(field: "--datasets", problem: "no comparison of the suite runs on \(datasets ?? "these datasets")") }
        return (benchmark, arms)
    }

    func run() throws {
        try ComputeDevice.check(device)
        Interrupts.install()
        let log = { (line: String) in FileHandle.standardError.write(Data((line + "\n").utf8)) }
        let results: [Benchmark.ArmResult], isScaling: Bool
        do {
            let (benchmark, arms) = try makeBenchmark()
            isScaling = benchmark.suite.isScaling
            let resultsStore = try storeOption.open()
            let tuning = benchmark.suite.isTuned ? "\(benchmark.suite.trials) trials of \(benchmark.suite.epochs) epochs each" : "no tuning"
            log("bench \(benchmark.suite.name): \(arms.count) arms, \(tuning), "
                + "\(benchmark.finalSeeds.count) final seeds (\(benchmark.finalSeeds.map(String.init).joined(separator: ", "))), store \(storeOption.shown)")
            try launch.validate(workers: workers, threads: threads ?? max(1, ProcessInfo.processInfo.activeProcessorCount / workers))
            guard !launch.dryRun else { throw ValidationError("--dry-run: bench submits one array per study as it goes; use tune --dry-run to see a study's script") }
            let tune: ((StudySpecification, StoredStudy) throws -> Void)?
            switch launch.launcher {
            case .local where workers == 1: tune = nil
            case .local: tune = { spec, _ in try TuneProcesses.run(spec, workers: workers, store: storeOption.store) }
            case .slurm:
                tune = { spec, stored in
                    let launcher = SlurmLauncher(options: launch, tasks: launch.arraySize ?? workers, threads: spec.threads)
                    if try !launcher.run(study: stored, store: resultsStore, workerArguments: TuneProcesses.arguments(spec, store: storeOption.store)) {
                        throw RuntimeFailure("the SLURM job array of study \(stored.name) ended before it finished its budget; run the command again to resume")
                    }
                }
            }
            results = try benchmark.run(arms, store: resultsStore, log: log, observers: { [ProgressReporter()] }, tune: tune)
        } catch let error as ConfigurationError {
            throw ValidationError(error.description)
        }
        print(["comparison", "algorithm", "test accuracy", "train time", "energy", "best trial", "reading"].joined(separator: "\t"))
        for result in results { print(Self.summaryLine(result, among: results)) }
        if isScaling {
            for fit in Scaling.fits(results.flatMap(\.finalRuns)) { print(Scaling.line(fit)) }
        }
    }
}

extension Bench {
    /// `comparison algorithm: test accuracy mean ± SD (n), seconds, energy (source); best trial`.
    /// The control arm's id and final runs in `result`'s comparison, when its algorithm declares one.
    static func control(of result: Benchmark.ArmResult, among results: [Benchmark.ArmResult]) -> (id: String, runs: [StoredRun])? {
        guard let id = (try? AlgorithmRegistry.descriptor(for: result.arm.study.algorithm))?.control,
              let control = results.first(where: { $0.arm.comparison == result.arm.comparison && $0.arm.study.algorithm == id }) else { return nil }
        return (id, control.finalRuns)
    }

    /// One arm's line; its reading weighs it against its control's runs among `results`.
    static func summaryLine(_ result: Benchmark.ArmResult, among results: [Benchmark.ArmResult]) -> String {
        let spec = result.arm.study
        let runs = result.finalRuns
        if result.bestTrial == nil, runs.isEmpty { return "\(result.arm.comparison)\t\(spec.algorithm)\tno completed trial" }
        let accuracy = Summary(runs.compactMap(\.testAccuracy).map { $0 * 100 })
        let seconds = Summary(runs.map(\.trainSeconds)), energy = Summary(runs.compactMap(\.energyJoules))
        let source = Set(runs.compactMap(\.energySource)).sorted().joined(separator: "+")
        let best = result.bestTrial.map { best in
            "val \(String(format: "%.4f", best.value ?? .nan)) with "
                + best.parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\(String(format: "%.3g", $0.value))" }.joined(separator: " ")
        } ?? "untuned"
        return "\(result.arm.comparison)\t\(spec.algorithm)\t"
            + String(format: "%.2f ± %.2f %% (n=%d)\t%.1f s\t", accuracy.mean, accuracy.sd, accuracy.n, seconds.mean)
            + (energy.n == 0 ? "-" : String(format: "%.0f J", energy.mean) + " (\(source))")
            + "\t" + best
            + "\t" + (FairnessAudit.whyNotAFinding(runs, control: control(of: result, among: results)).map { "NOT A FINDING: " + $0 } ?? "result")
    }
}
