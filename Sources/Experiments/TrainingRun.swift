import Algorithms
import Datasets
import Foundation
import Metering
import Records
import Results
import TensorCore
import Training

/// Composes one run: data, algorithm, trainer, observers, and the run record.
public enum TrainingRun {
    /// Runs `configuration` to its stop and returns the record (failed runs included), stored in
    /// `store` when one is given.
    ///
    /// Throws for bad input (flags, data files) before training starts, and when the record
    /// cannot be written.
    public static func execute(_ configuration: RunConfiguration, observers: [any TrainingObserver] = [],
                               store: ResultsStore? = nil) throws -> RunRecord {
        let (record, trace) = try perform(configuration, observers: observers)
        if let store { try store.insert(StoredRun(record, traceRows: trace)) }
        return record
    }

    /// Runs `configuration` to its stop; returns the record and the resource trace's rows
    /// (for the caller to store).
    public static func perform(_ configuration: RunConfiguration,
                               observers: [any TrainingObserver] = []) throws -> (record: RunRecord, trace: [[Double?]]) {
        try configuration.validate()
        Parallel.threads = configuration.threads
        let startedAt = ISO8601DateFormatter().string(from: Date())
        let loadStart = ContinuousClock.now
        let data = try configuration.loadData()
        let (loadSeconds, loadAttoseconds) = (ContinuousClock.now - loadStart).components
        let architecture = try configuration.architecture ?? AlgorithmRegistry.defaultArchitecture(for: configuration.algorithm,
                                                                                                  dataset: configuration.dataset)
        let batchSize = try AlgorithmRegistry.hyperparameters(for: configuration.algorithm, common: configuration.overrides,
                                                              options: configuration.options).integer("batch_size")
        try MemoryEstimate(architecture, inputShape: data.train.sampleShape, classCount: data.train.classCount, batchSize: batchSize)
            .check(architecture: architecture, batchSize: batchSize)
        let built = try AlgorithmRegistry.make(id: configuration.algorithm, architecture: configuration.architecture,
                                               inputShape: data.train.sampleShape, classCount: data.train.classCount,
                                               common: configuration.overrides, options: configuration.options,
                                               seed: configuration.seed, dataset: configuration.dataset)
        let measurement = configuration.measurement
        let intensity = try measurement.resolvedIntensity()
        let meters = MeterDiscovery.discover(estimate: measurement.estimateConstants, raplRoot: measurement.raplRoot,
                                             nvmlLibrary: measurement.nvmlLibrary)
        let metering = MeteringObserver(session: MeasurementSession(meters: meters.meters, traceHz: measurement.traceHz))
        let rules = configuration.trainingProtocol.stopping(algorithm: configuration.algorithm, dataset: configuration.dataset,
                                                            architecture: built.architecture, base: configuration.stopping)
        var trainerConfiguration = Trainer.Configuration(stopping: rules.common, batchSize: built.batchSize, seed: configuration.seed)
        trainerConfiguration.stageStopping = rules.stages
        let trainer = Trainer(configuration: trainerConfiguration, observers: [metering, InterruptObserver()] + observers)
        let result = trainer.fit(built.algorithm, data: data)
        var record = RunRecord(result, configuration: configuration, built: built, startedAt: startedAt, stopping: rules.common)
        record.stageStopping = rules.stages.isEmpty ? nil : rules.stages.mapValues(RunRecord.Stopping.init)
        record.dataLoadSeconds = Double(loadSeconds) + Double(loadAttoseconds) * 1e-18
        var traceRows: [[Double?]] = []
        if let measured = metering.result {
            traceRows = measured.rows.map(\.values)
            record.attach(measured, intensity: intensity, meters: meters.meters, configuration: measurement)
            if let path = measurement.tracePath {
                do {
                    try Data(measured.csv.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
                } catch {
                    throw ConfigurationError(field: "--trace", problem: "cannot write \(path): \(error.localizedDescription)")
                }
            }
        }
        return (record, traceRows)
    }
}

extension RunRecord {
    /// The one-line summary printed at the end of `bpfree train`.
    public var summaryLine: String {
        let accuracy = testAccuracy.map { String(format: "%.2f%%", $0 * 100) } ?? "n/a"
        var line = "\(algorithm) \(architecture) \(dataset) seed \(seed): \(status.rawValue)"
        if let failureReason { line += " (\(failureReason))" }
        line += ", test accuracy \(accuracy), \(effectiveEpochs) epochs (best \(bestEpoch)), \(format("%.1f", trainSeconds)) s, "
            + "\(format("%.0f", samplesPerSecond)) samples/s, \(format("%.1f", flopsPerSecond / 1e9)) GFLOP/s, "
            + "peak RSS \(format("%.0f", Double(peakRSSBytes) / 1_048_576)) MiB"
        if let energyJoules, let energySource {
            line += ", \(format("%.0f", energyJoules)) J (\(energySource)), \(format("%.2f", co2eGrams ?? 0)) g CO2e"
        }
        return line
    }
}
