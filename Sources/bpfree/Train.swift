import Algorithms
import ArgumentParser
import Experiments
import Foundation
import Records
import Results
import Training

/// `bpfree train`: one run to its stop, with a run record.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train one model until the stopping rule stops it, then test the best checkpoint.")

    @OptionGroup var runOptions: RunOptions

    @Option(help: "Training batch size (default: the algorithm's, 128 for BP).")
    var batchSize: Int?

    @Option(help: "Learning rate (default: the algorithm's, 2e-4 for BP).")
    var learningRate: Double?

    @Option(help: "Weight decay (default: the algorithm's, 3e-5 for BP).")
    var weightDecay: Double?

    @Option(help: "Write the run record as JSON to this file (atomically).")
    var output: String?

    @Option(help: ArgumentHelp("Save the tested model (the checkpoint the restore rule kept) in safetensors format, with metadata saying how to predict (atomically).", valueName: "file.safetensors"))
    var saveModel: String?

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

    @Option(help: ArgumentHelp("Append the run's energy and CO2e as a row of a CodeCarbon 3.0.1 emissions.csv (made when missing).", valueName: "file.csv"))
    var emissions: String?

    func makeConfiguration() throws -> RunConfiguration {
        var configuration = RunConfiguration(
            algorithm: runOptions.algorithm, architecture: try runOptions.parsedArchitecture(), dataset: runOptions.dataset,
            dataDirectory: runOptions.dataDir, seed: runOptions.seed, stopping: runOptions.stopping,
            overrides: CommonHyperparameters(learningRate: learningRate, weightDecay: weightDecay, batchSize: batchSize),
            options: try runOptions.parsedSettings(), trainLimit: runOptions.trainLimit,
            threads: runOptions.threads ?? ProcessInfo.processInfo.activeProcessorCount)
        configuration.trainingProtocol = runOptions.trainingProtocol
        configuration.device = runOptions.device
        configuration.gpuMath = runOptions.gpuMath
        configuration.measurement = MeasurementConfiguration(traceHz: traceHz, tracePath: trace, country: country,
                                                             carbonIntensity: carbonIntensity, cpuTDPWatts: cpuTdpWatts)
        configuration.measurement.emissionsPath = emissions
        return configuration
    }

    func run() throws {
        try ComputeDevice.check(runOptions.device)
        Interrupts.install()
        let record: RunRecord
        do {
            let configuration = try makeConfiguration()
            try configuration.validate()
            if let output { try checkWritableFile(output, flag: "--output") }
            if let trace { try checkWritableFile(trace, flag: "--trace") }
            if let saveModel { try checkWritableFile(saveModel, flag: "--save-model") }
            if let emissions {
                try checkWritableFile(emissions, flag: "--emissions")
                try CodeCarbonEmissions.checkAppendable(emissions)
            }
            let results = noStore ? nil : try runOptions.storeOption.open()
            record = try TrainingRun.execute(configuration, observers: [ProgressReporter()], store: results, output: output,
                                          modelPath: saveModel)
        } catch let error as ConfigurationError {
            throw ValidationError(error.description)
        } catch let interrupted as Interrupted {
            // Stopped before its run could record anything: a single run does not resume.
            throw Interrupted(signal: interrupted.signal, resumable: false)
        } catch let error as TrainingRun.SaveError {
            print(error.record.summaryLine)
            throw error
        }
        print(record.summaryLine)
        if record.status == .interrupted { throw Interrupted(signal: Interrupts.requested ?? SIGTERM, resumable: false) }
        if record.status != .completed { throw ExitCode(2) }
    }
}
