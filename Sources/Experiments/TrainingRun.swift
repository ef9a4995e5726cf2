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
    /// Runs `configuration` to its stop and returns the record (failed runs included), saved in
    /// `store`, as the trace CSV (`measurement.tracePath`), as JSON at `output` and as a row of
    /// a CodeCarbon `emissions.csv` (`measurement.emissionsPath`), each when given. The run
    /// itself is an `IsolatedRun`, as a trial's or a bench's, so that all three measure alike.
    ///
    /// Throws for bad input (flags, data files) before training starts. Every save is tried
    /// even when another fails (a full disk under one of them): then `SaveError` names each
    /// place the run could not be written to, and the others hold it whole.
    public static func execute(_ configuration: RunConfiguration, observers: [any TrainingObserver] = [],
                               store: ResultsStore? = nil, output: String? = nil, modelPath: String? = nil) throws -> RunRecord {
        let (record, trace, model) = try IsolatedRun.perform(configuration, observers: observers, keepingModel: modelPath != nil)
        var runID: Int64?
        var failures: [String] = []
        // Smallest first: on a nearly full disk a failing store write takes the last space, and
        // the JSON record and the emissions row must not be lost with it.
        if let output {
            do { try record.write(to: output) } catch { failures.append("\(error)") }
        }
        if let path = configuration.measurement.emissionsPath {
            do { try CodeCarbonEmissions.append(record, to: path) } catch { failures.append("\(error)") }
        }
        if let path = configuration.measurement.tracePath {
            do { try Data(TraceRow.csv(trace).utf8).write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
                failures.append("--trace: cannot write \(path): \(error.localizedDescription)")
            }
        }
        if let store {
            do { runID = try store.insert(StoredRun(record, traceRows: trace)) } catch { failures.append("--store: \(error)") }
        }
        // Last: the largest file, and the store's id goes into it.
        if let modelPath {
            if var model {
                if let runID { model.file.metadata["run_id"] = "\(runID)" }
                do { try model.write(to: modelPath) } catch { failures.append("\(error)") }
            } else {
                failures.append("--save-model: no model saved to \(modelPath): the run \(record.status.rawValue) before its test")
            }
        }
        if !failures.isEmpty { throw SaveError(record: record, failures: failures) }
        return record
    }

    /// A run that finished but could not be saved everywhere it was asked to be.
    public struct SaveError: Error, CustomStringConvertible {
        public let record: RunRecord
        /// One line per place, naming the flag and the file.
        public let failures: [String]

        public var description: String {
            "the run ended (\(record.status.rawValue)) but could not be saved everywhere:\n  " + failures.joined(separator: "\n  ")
        }
    }

    /// Runs `configuration` to its stop; returns the record, the resource trace's rows (for the
    /// caller to store) and, when `keepingModel` and the model was tested, the tested model.
    public static func perform(_ configuration: RunConfiguration, observers: [any TrainingObserver] = [],
                               keepingModel: Bool = false) throws -> (record: RunRecord, trace: [[Double?]], model: SavedModel?) {
        try configuration.validate()
        try RunConfiguration.checkThreadsFitThisMachine(configuration.threads)
        Parallel.threads = configuration.threads
        let startedAt = ISO8601DateFormatter().string(from: Date())
        let architecture = try configuration.architecture ?? AlgorithmRegistry.defaultArchitecture(for: configuration.algorithm,
                                                                                                  dataset: configuration.dataset)
        let backend = try ComputeDevice.backend(for: configuration.device, math: configuration.gpuMath)
        let loadStart = ContinuousClock.now
        var data = try configuration.loadData()
        if let backend {
            // The splits live on the card; refuse before copying when they cannot (half the free
            // memory at most: the model, its optimizer state and the activations need the rest).
            let bytes = [data.train, data.validation, data.test].reduce(0) { $0 + ($1.inputs.count + $1.count) * 4 }
            let free = backend.freeBytes
            guard bytes <= free / 2 else {
                throw ComputeDevice.Unavailable(device: configuration.device, reason: String(
                    format: "the data needs %.1f MiB on the card, which has %.1f MiB free: train on a smaller --train-limit or on the CPU",
                    Double(bytes) / 1_048_576, Double(free) / 1_048_576))
            }
            data = DataSplits(train: data.train.moved(to: backend), validation: data.validation.moved(to: backend),
                              test: data.test.moved(to: backend))
        }
        let loadSeconds = (ContinuousClock.now - loadStart).seconds
        let rules = try configuration.trainingProtocol.rules(algorithm: configuration.algorithm, dataset: configuration.dataset,
                                                             architecture: architecture, options: configuration.options,
                                                             base: configuration.stopping)
        let options = configuration.options(with: rules.defaults)
        let batchSize = try AlgorithmRegistry.hyperparameters(for: configuration.algorithm, common: configuration.overrides,
                                                              options: options).integer("batch_size")
        try MemoryEstimate(architecture, inputShape: data.train.sampleShape, classCount: data.train.classCount, batchSize: batchSize)
            .check(architecture: architecture, batchSize: batchSize)
        let built = try AlgorithmRegistry.make(id: configuration.algorithm, architecture: architecture,
                                               inputShape: data.train.sampleShape, classCount: data.train.classCount,
                                               common: configuration.overrides, options: options,
                                               seed: configuration.seed, dataset: configuration.dataset)
        built.algorithm.move(to: backend)
        let measurement = configuration.measurement
        let intensity = try measurement.resolvedIntensity()
        let meters = MeterDiscovery.discover(estimate: measurement.estimateConstants, raplRoot: measurement.raplRoot,
                                             nvmlLibrary: measurement.nvmlLibrary)
        let metering = MeteringObserver(session: MeasurementSession(meters: meters.meters, traceHz: measurement.traceHz))
        var trainerConfiguration = Trainer.Configuration(stopping: rules.stopping, batchSize: built.batchSize, seed: configuration.seed)
        trainerConfiguration.stageStopping = rules.stages
        trainerConfiguration.restore = rules.restore
        trainerConfiguration.stageRestore = rules.stageRestore
        let trainer = Trainer(configuration: trainerConfiguration, observers: [metering, InterruptObserver()] + observers)
        let result = trainer.fit(built.algorithm, data: data)
        var record = RunRecord(result, configuration: configuration, built: built, classCount: data.train.classCount, startedAt: startedAt,
                               stopping: rules.stopping)
        record.stageStopping = rules.stages.isEmpty ? nil : rules.stages.mapValues(RunRecord.Stopping.init)
        record.dataLoadSeconds = loadSeconds
        record.environment?.gpu?.driverVersion = meters.meters.lazy.compactMap { ($0 as? NVMLMeter)?.driverVersion }.first
        var traceRows: [[Double?]] = []
        if let measured = metering.result {
            traceRows = measured.rows.map(\.values)
            record.attach(measured, intensity: intensity, meters: meters.meters, configuration: measurement)
        }
        if result.status == .completed, result.testAccuracy != nil {
            record.inference = InferenceCost.measure(built.algorithm, test: data.test, meters: meters.meters)
        }
        built.algorithm.move(to: nil)
        let model = keepingModel && record.testAccuracy != nil
            ? SavedModel(built, configuration: configuration, inputShape: data.train.sampleShape, classCount: data.train.classCount, record: record)
            : nil
        return (record, traceRows, model)
    }
}

extension RunRecord {
    /// The one-line summary printed at the end of `bpfree train`.
    public var summaryLine: String {
        let accuracy = testAccuracy.map { String(format: "%.2f%%", $0 * 100) } ?? "n/a"
        var line = "\(algorithm) \(architecture) \(dataset) seed \(seed): \(status.rawValue)"
        if let failureReason { line += " (\(failureReason))" }
        // The epoch whose weights were tested: the best (harmonized) or as the restore rule says.
        let kept = stages.last.map { stage in "\(stage.restore ?? "best") \(stage.restoredEpoch ?? stage.bestEpoch)" } ?? "best \(bestEpoch)"
        line += ", test accuracy \(accuracy), \(effectiveEpochs) epochs (tested: \(kept)), \(format("%.1f", trainSeconds)) s, "
            + "\(format("%.0f", samplesPerSecond)) samples/s, \(format("%.1f", flopsPerSecond / 1e9)) GFLOP/s, "
            + "peak RSS \(format("%.0f", Double(peakRSSBytes) / 1_048_576)) MiB"
        if let energyJoules, let energySource {
            line += ", \(format("%.0f", energyJoules)) J (\(energySource)), \(format("%.2f", co2eGrams ?? 0)) g CO2e"
        }
        if let contention = windowContention, contention.contended {
            line += "; measured under load: other processes used \(format("%.1f", contention.otherCPUSeconds)) CPU-s"
                + (contention.stealSeconds > 0 ? ", the hypervisor stole \(format("%.1f", contention.stealSeconds)) s" : "")
                + " in the \(format("%.1f", contention.seconds)) s window"
        }
        return line
    }
}
