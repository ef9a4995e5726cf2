import Algorithms
import ArgumentParser
import Experiments
import Foundation
import Results
import Tuning

extension StudySampler.Kind: ExpressibleByArgument {}
extension StudySpecification.Pruner: ExpressibleByArgument {}

/// `bpfree tune`: a TPE (or random) study over an algorithm's search space, shared by worker
/// processes through the results store; running it again resumes the study.
struct Tune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Tune an algorithm's hyperparameters (protocol §4 search space, objective: validation accuracy); running it again resumes the study.")

    @OptionGroup var runOptions: RunOptions

    @Option(help: "Trials to finish (failed trials count; trials of a dead worker are retried and do not).")
    var trials = 20

    @Option(help: "Study name (default: algorithm-dataset-architecture-eEPOCHS[-nLIMIT]-sSEED); an existing study is resumed.")
    var study: String?

    @Option(help: "Sampler: tpe (Optuna 4.9's defaults) or random.")
    var sampler: StudySampler.Kind = .tpe

    @Option(help: "Pruner: none or median (Optuna's MedianPruner on the per-epoch validation accuracy).")
    var pruner: StudySpecification.Pruner = .none

    @Option(help: "Worker processes sharing the study (threads default to cores / workers).")
    var workers = 1

    @Option(help: "Seconds between a worker's heartbeats; a trial silent for 4 intervals is failed and retried.")
    var heartbeatSeconds = 5.0

    @OptionGroup var launch: LauncherOptions

    @OptionGroup var models: ModelsOption

    @Option(help: ArgumentHelp("What the study optimises: validation_accuracy (maximised), then optionally one of energy_joules, train_seconds, peak_memory (minimised): a multi-objective study whose Pareto front Optuna reads as best_trials.", valueName: "list"))
    var objectives = "validation_accuracy"

    @Flag(help: .hidden)
    var asWorker = false

    func makeSpecification() throws -> StudySpecification {
        guard workers >= 1 else { throw ConfigurationError(field: "--workers", problem: "must be at least 1, got \(workers)") }
        guard heartbeatSeconds > 0 else { throw ConfigurationError(field: "--heartbeat-seconds", problem: "must be positive, got \(heartbeatSeconds)") }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        try launch.validate(workers: workers, threads: runOptions.threads ?? max(1, cores / workers))
        var specification = StudySpecification(
            name: study, algorithm: runOptions.algorithm, architecture: try runOptions.parsedArchitecture(),
            dataset: runOptions.dataset, seed: runOptions.seed, trials: trials, stopping: runOptions.stopping,
            trainLimit: runOptions.trainLimit, sampler: sampler, pruner: pruner, options: try runOptions.parsedSettings(),
            dataDirectory: runOptions.dataDir, threads: runOptions.threads ?? max(1, cores / workers))
        specification.trainingProtocol = runOptions.trainingProtocol
        specification.device = runOptions.device
        specification.gpuMath = runOptions.gpuMath
        specification.objectives = try StudySpecification.Objective.list(parsing: objectives)
        return specification
    }

    func run() throws {
        try ComputeDevice.check(runOptions.device)
        Interrupts.install()
        let specification: StudySpecification
        let stored: StoredStudy
        let store: ResultsStore
        let modelFolder: ModelFolder?
        do {
            specification = try makeSpecification()
            modelFolder = try models.folder(store: runOptions.storeOption)
            try specification.validate()
            if launch.launcher == .slurm, launch.dryRun, !asWorker {
                let launcher = SlurmLauncher(options: launch, tasks: launch.arraySize ?? workers, threads: specification.threads)
                let (arguments, _) = TuneProcesses.withoutPassword(SlurmLauncher.workerArguments(from: Array(CommandLine.arguments.dropFirst())))
                print(launcher.script(study: try specification.stored().name, workerArguments: arguments, folder: launch.slurmDir + "/…"), terminator: "")
                return
            }
            store = try runOptions.storeOption.open()
            stored = try store.openStudy(try specification.stored())
        } catch let error as ConfigurationError {
            throw ValidationError(error.description)
        } catch let error as StoreError {
            throw CommandError("--store: \(error)")
        }
        if launch.launcher == .slurm, !asWorker {
            let launcher = SlurmLauncher(options: launch, tasks: launch.arraySize ?? workers, threads: specification.threads)
            let completed = try launcher.run(study: stored, store: store, workerArguments: Array(CommandLine.arguments.dropFirst()))
            let trials = try store.trials(ofStudy: stored.id!)
            print(StudyListing.trialsTable(trials))
            print(StudyListing.summary(stored, trials: trials))
            if !completed { throw RuntimeFailure("the SLURM job array ended before the study finished its budget; run the command again to resume") }
            return
        }
        if asWorker || workers == 1 {
            let worker = StudyWorker(store: store, study: stored, space: try specification.searchSpace(),
                                     heartbeatInterval: heartbeatSeconds)
            let prefix = asWorker ? "[\(worker.workerID)] " : ""
            worker.log = { FileHandle.standardError.write(Data((prefix + $0 + "\n").utf8)) }
            worker.models = modelFolder
            let live = !asWorker
            try worker.run(objective: specification.objective(observers: { live ? [ProgressReporter()] : [] }, keepingModels: modelFolder != nil))
        } else {
            try TuneProcesses.run(arguments: Array(CommandLine.arguments.dropFirst()), workers: workers)
        }
        guard !asWorker else { return }
        let trials = try store.trials(ofStudy: stored.id!)
        print(StudyListing.trialsTable(trials))
        print(StudyListing.summary(stored, trials: trials))
        if let modelFolder {
            for trial in trials.paretoFront(stored.objectives) {
                let file = try modelFolder.file(study: stored.name, trial: trial.number)
                if FileManager.default.fileExists(atPath: file) { print("model of trial \(trial.number): \(file)") }
            }
        }
    }
}

/// Text listings of studies and trials.
enum StudyListing {
    /// One line per trial: number, state, value (values: one per objective), parameters, reason.
    static func trialsTable(_ trials: [FrozenTrial]) -> String {
        let several = trials.contains { ($0.values?.count ?? 0) > 1 }
        var lines = [["trial", "state", several ? "values" : "value", "parameters", "worker", "note"].joined(separator: "\t")]
        for t in trials {
            let parameters = t.parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\(String(format: "%.3g", $0.value))" }
            let values = several ? t.values.map { $0.map { String(format: "%.4g", $0) }.joined(separator: ",") }
                                 : t.value.map { String(format: "%.4f", $0) }
            lines.append([String(t.number), t.state.rawValue, values ?? "-",
                          parameters.joined(separator: " "), t.workerID ?? "-", t.failureReason ?? ""].joined(separator: "\t"))
        }
        return lines.joined(separator: "\n")
    }

    /// The study's counts by state and its best trial.
    static func summary(_ study: StoredStudy, trials: [FrozenTrial]) -> String {
        var text = "study \(printable(study.name)): \(study.algorithm) \(study.architecture) \(study.dataset), \(study.sampler) sampler "
            + "(seed \(study.samplerSeed)), pruner \(study.pruner), \(study.epochsPerTrial) epochs per trial, budget \(study.trialBudget): "
            + trials.stateCounts
        // The option prefix `--set` takes: a variant's (cafo-rand-ce) is its base algorithm's.
        let prefix = (try? AlgorithmRegistry.algorithm(study.algorithm).id) ?? study.algorithm
        func settings(_ trial: FrozenTrial) -> String {
            trial.parameters.sorted { $0.key < $1.key }.map { "--set \(prefix).\($0.key)=\($0.value)" }.joined(separator: " ")
        }
        if study.objectives.count > 1 {
            let front = trials.paretoFront(study.objectives)
            text += "\nPareto front (\(study.objectives.map { "\($0.name) \($0.direction.rawValue.lowercased())d" }.joined(separator: ", ")))"
                + ": \(front.count) trial\(front.count == 1 ? "" : "s")"
            for trial in front.sorted(by: { $0.value! > $1.value! }) {
                text += "\n  trial \(trial.number): " + zip(study.objectives, trial.values!).map { "\($0.name) \(String(format: "%.4g", $1))" }
                    .joined(separator: ", ") + " with " + settings(trial)
            }
        } else if let best = trials.best {
            text += "\nbest trial \(best.number): validation accuracy \(String(format: "%.4f", best.value!)) with " + settings(best)
        }
        return text
    }
}

/// `text` with line breaks, tabs and other control characters written as escapes (`\n`, `\t`,
/// `\u{1B}`), so that a name cannot break a listing's lines or columns.
func printable(_ text: String) -> String {
    text.unicodeScalars.map { scalar in
        guard scalar.properties.generalCategory == .control else { return String(scalar) }
        return switch scalar {
        case "\n": "\\n"
        case "\t": "\\t"
        case "\r": "\\r"
        default: "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
        }
    }.joined()
}
