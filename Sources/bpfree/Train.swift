import Algorithms
import ArgumentParser
import Experiments
import Foundation
import Results
import Training

/// `bpfree train`: one run to its stop, with a run record.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train one model until the stopping rule stops it, then test the best checkpoint.")

    @Option(help: "Learning algorithm: \(AlgorithmRegistry.ids.joined(separator: ", ")).")
    var algorithm = "bp"

    @Option(help: "Network: \(Architecture.presets.joined(separator: ", ")), mlp-AxB or mlp:W1,W2,... (default: the algorithm's: mlp-4x2000 for ff; mlp-2x1000 for bp, mf, dfa, mlp-3x2000 on CIFAR).")
    var architecture: String?

    @Option(help: "Dataset: \(RunConfiguration.datasets.joined(separator: ", ")).")
    var dataset = "fashion-mnist"

    @Option(help: "Folder with the dataset files (default: $BPFREE_DATA, ~/.cache/bpfree, /usr/share/datasets).")
    var dataDir: String?

    @Option(help: "Seed of weights, validation split and shuffling.")
    var seed: UInt64 = 1

    @Option(help: "Epoch cap per stage.")
    var epochs = StoppingRule.harmonized.maxEpochs

    @Option(help: "Epochs without a validation-loss improvement before stopping.")
    var patience = StoppingRule.harmonized.patience

    @Option(help: "Smallest validation-loss decrease that counts as an improvement.")
    var minDelta = StoppingRule.harmonized.minDelta

    @Option(name: .customLong("set"), help: ArgumentHelp("Set an algorithm option, e.g. ff.normalization=l2 (repeatable; an unknown one lists the valid ones).", valueName: "key=value"))
    var settings: [String] = []

    @Option(help: "Training batch size (default: the algorithm's, 128 for BP).")
    var batchSize: Int?

    @Option(help: "Learning rate (default: the algorithm's, 2e-4 for BP).")
    var learningRate: Double?

    @Option(help: "Weight decay (default: the algorithm's, 3e-5 for BP).")
    var weightDecay: Double?

    @Option(help: "Use only the first N training samples (for quick runs).")
    var trainLimit: Int?

    @Option(help: "BLAS and kernel threads, recorded with the run (default: the number of cores).")
    var threads: Int?

    @Option(help: "Write the run record as JSON to this file (atomically).")
    var output: String?

    @Option(help: "Results store (SQLite) that records the run.")
    var store = "bpfree.sqlite"

    @Flag(help: "Do not record the run in the results store.")
    var noStore = false

    @Option(help: "Resource trace samples per second; 0 samples only at the window's ends.")
    var traceHz: Double = 5

    @Option(help: ArgumentHelp("Write the resource trace (CPU, clock, memory, power, GPU) as CSV to this file.", valueName: "file.csv"))
    var trace: String?

    @Option(help: ArgumentHelp("Country for the grid's carbon intensity (ISO 3166 alpha-3, e.g. FRA); default: world average 475 g/kWh.", valueName: "ISO3"))
    var country: String?

    @Option(help: ArgumentHelp("Carbon intensity in g CO2e per kWh (overrides --country).", valueName: "g-per-kwh"))
    var carbonIntensity: Double?

    @Option(help: "CPU TDP in watts for the energy estimate used when no meter measures (default: 4 W per logical CPU).")
    var cpuTdpWatts: Double?

    func makeConfiguration() throws -> RunConfiguration {
        var options: [String: String] = [:]
        for setting in settings {
            let parts = setting.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty else {
                throw ConfigurationError(field: "--set", problem: "'\(setting)' is not of the form key=value (e.g. ff.normalization=l2)")
            }
            options[parts[0]] = parts[1]
        }
        var configuration = RunConfiguration(
            algorithm: algorithm, architecture: try architecture.map(Architecture.init(parsing:)), dataset: dataset,
            dataDirectory: dataDir, seed: seed,
            stopping: StoppingRule(patience: patience, minDelta: minDelta, maxEpochs: epochs),
            overrides: CommonHyperparameters(learningRate: learningRate, weightDecay: weightDecay, batchSize: batchSize),
            options: options, trainLimit: trainLimit, threads: threads ?? ProcessInfo.processInfo.activeProcessorCount)
        configuration.measurement = MeasurementConfiguration(traceHz: traceHz, tracePath: trace, country: country,
                                                             carbonIntensity: carbonIntensity, cpuTDPWatts: cpuTdpWatts)
        return configuration
    }

    func run() throws {
        let record: RunRecord
        do {
            let configuration = try makeConfiguration()
            try configuration.validate()
            let results = noStore ? nil : try ResultsStore(path: store)
            record = try TrainingRun.execute(configuration, observers: [ProgressReporter()], store: results)
            if let output { try record.write(to: output) }
        } catch let error as ConfigurationError {
            throw ValidationError(error.description)
        }
        print(record.summaryLine)
        if record.status != "completed" { throw ExitCode(2) }
    }
}
