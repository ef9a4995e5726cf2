import Algorithms
import Foundation
import Metering
import Results
import Training

/// The JSON record of one training run (snake_case keys, written atomically).
///
/// Later measurements (energy, traces) slot in as further optional fields.
public struct RunRecord: Sendable, Codable, Equatable {
    /// One epoch as recorded (the same value the results store keeps).
    public typealias Epoch = StoredRun.Epoch
    /// One stage as recorded.
    public typealias StageSummary = StoredRun.Stage

    /// The stopping rule the run used.
    public struct Stopping: Sendable, Codable, Equatable {
        public var monitor: String
        public var patience: Int
        public var minDelta: Double
        public var maxEpochs: Int

        enum CodingKeys: String, CodingKey {
            case monitor, patience, minDelta = "min_delta", maxEpochs = "max_epochs"
        }

        /// The record of a rule.
        public init(_ rule: StoppingRule) {
            monitor = rule.monitor.rawValue
            patience = rule.patience
            minDelta = rule.minDelta
            maxEpochs = rule.maxEpochs
        }
    }

    public var algorithm: String
    public var dataset: String
    public var architecture: String
    public var seed: UInt64
    public var hyperparameters: [String: HyperparameterValue]
    public var stopping: Stopping
    /// `harmonized` or `seed-paper`.
    public var trainingProtocol: String
    /// Rules of their own for stages (by stage-name prefix), under seed-paper.
    public var stageStopping: [String: Stopping]?
    public var trainLimit: Int?
    public var epochs: [Epoch]
    public var stages: [StageSummary]
    public var effectiveEpochs: Int
    public var bestEpoch: Int
    public var status: String
    public var failureReason: String?
    public var testAccuracy: Double?
    public var trainSeconds: Double
    public var trainSamples: Int
    public var samplesPerSecond: Double
    public var trainFlops: Int
    public var forwardFlopsPerSample: Double?
    public var flopsPerSecond: Double
    public var peakRSSBytes: Int
    public var peakTensorBytes: Int
    public var threads: Int
    public var environment: EnvironmentInfo
    public var startedAt: String
    /// Joules over the window, from `energySource`.
    public var energyJoules: Double?
    /// `rapl`, `nvml`, `rapl+nvml` or `estimate` (never a measurement when it says estimate).
    public var energySource: String?
    public var energyByMeter: [String: Double]?
    /// The estimate model's constants, present only when the source is `estimate`.
    public var energyModel: EstimateMeter.Constants?
    public var co2eGrams: Double?
    public var carbonIntensityGPerKWh: Double?
    /// Where the carbon intensity comes from: `country:ISO3`, `world-average` or `given`.
    public var carbonIntensitySource: String?
    /// How `peak_rss_bytes` was obtained: `vmhwm` (kernel high-water mark reset at the window
    /// start) or `sampled` (the trace's maximum, where the reset is not possible).
    public var peakRSSMethod: String
    public var traceHz: Double?
    public var traceSamples: Int?
    /// Seconds the trace sampler itself ran (its overhead on the window).
    public var traceOverheadSeconds: Double?
    /// Mean and maximum of each trace column over the window.
    public var traceSummary: [String: ColumnSummary]?
    /// Seconds spent loading the data before the window (decoded cache or source files).
    public var dataLoadSeconds: Double?
    /// Why the run exists: `train`, `trial` (of `study`) or `final` (of a `comparison`).
    public var role = "train"
    public var study: String?
    public var trialNumber: Int?
    public var comparison: String?

    /// The validation accuracy of the restored checkpoint: the last stage's best epoch (the
    /// tuning objective); nil when no epoch ran.
    public var bestValidationAccuracy: Double? {
        guard let last = stages.last else { return nil }
        return epochs.last { $0.stage == last.name && $0.epoch == last.bestEpoch }?.valAccuracy
    }

    enum CodingKeys: String, CodingKey {
        case algorithm, dataset, architecture, seed, hyperparameters, stopping
        case trainingProtocol = "protocol", stageStopping = "stage_stopping"
        case trainLimit = "train_limit", epochs, stages
        case effectiveEpochs = "effective_epochs", bestEpoch = "best_epoch", status
        case failureReason = "failure_reason", testAccuracy = "test_accuracy"
        case trainSeconds = "train_seconds", trainSamples = "train_samples"
        case samplesPerSecond = "samples_per_second", trainFlops = "train_flops"
        case forwardFlopsPerSample = "forward_flops_per_sample", flopsPerSecond = "flops_per_second"
        case peakRSSBytes = "peak_rss_bytes", peakTensorBytes = "peak_tensor_bytes"
        case threads, environment, startedAt = "started_at"
        case energyJoules = "energy_joules", energySource = "energy_source", energyByMeter = "energy_by_meter"
        case energyModel = "energy_model", co2eGrams = "co2e_grams", carbonIntensityGPerKWh = "carbon_intensity_g_per_kwh"
        case carbonIntensitySource = "carbon_intensity_source", peakRSSMethod = "peak_rss_method"
        case traceHz = "trace_hz", traceSamples = "trace_samples", traceSummary = "trace_summary"
        case traceOverheadSeconds = "trace_overhead_seconds", dataLoadSeconds = "data_load_seconds"
        case role, study, trialNumber = "trial_number", comparison
    }

    /// Encodes every key, writing `null` for absent values (so the schema is always complete).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(algorithm, forKey: .algorithm)
        try c.encode(dataset, forKey: .dataset)
        try c.encode(architecture, forKey: .architecture)
        try c.encode(seed, forKey: .seed)
        try c.encode(hyperparameters, forKey: .hyperparameters)
        try c.encode(stopping, forKey: .stopping)
        try c.encode(trainingProtocol, forKey: .trainingProtocol)
        try c.encode(stageStopping, forKey: .stageStopping)
        try c.encode(trainLimit, forKey: .trainLimit)
        try c.encode(epochs, forKey: .epochs)
        try c.encode(stages, forKey: .stages)
        try c.encode(effectiveEpochs, forKey: .effectiveEpochs)
        try c.encode(bestEpoch, forKey: .bestEpoch)
        try c.encode(status, forKey: .status)
        try c.encode(failureReason, forKey: .failureReason)
        try c.encode(testAccuracy, forKey: .testAccuracy)
        try c.encode(trainSeconds, forKey: .trainSeconds)
        try c.encode(trainSamples, forKey: .trainSamples)
        try c.encode(samplesPerSecond, forKey: .samplesPerSecond)
        try c.encode(trainFlops, forKey: .trainFlops)
        try c.encode(forwardFlopsPerSample, forKey: .forwardFlopsPerSample)
        try c.encode(flopsPerSecond, forKey: .flopsPerSecond)
        try c.encode(peakRSSBytes, forKey: .peakRSSBytes)
        try c.encode(peakTensorBytes, forKey: .peakTensorBytes)
        try c.encode(threads, forKey: .threads)
        try c.encode(environment, forKey: .environment)
        try c.encode(startedAt, forKey: .startedAt)
        try c.encode(energyJoules, forKey: .energyJoules)
        try c.encode(energySource, forKey: .energySource)
        try c.encode(energyByMeter, forKey: .energyByMeter)
        try c.encode(energyModel, forKey: .energyModel)
        try c.encode(co2eGrams, forKey: .co2eGrams)
        try c.encode(carbonIntensityGPerKWh, forKey: .carbonIntensityGPerKWh)
        try c.encode(carbonIntensitySource, forKey: .carbonIntensitySource)
        try c.encode(peakRSSMethod, forKey: .peakRSSMethod)
        try c.encode(traceHz, forKey: .traceHz)
        try c.encode(traceSamples, forKey: .traceSamples)
        try c.encode(traceSummary, forKey: .traceSummary)
        try c.encode(traceOverheadSeconds, forKey: .traceOverheadSeconds)
        try c.encode(dataLoadSeconds, forKey: .dataLoadSeconds)
        try c.encode(role, forKey: .role)
        try c.encode(study, forKey: .study)
        try c.encode(trialNumber, forKey: .trialNumber)
        try c.encode(comparison, forKey: .comparison)
    }

    /// Adds a measurement window's energy, CO2e and trace summary.
    mutating func attach(_ measured: MeasurementResult, intensity: CarbonIntensity, meters: [any EnergyMeter],
                         configuration: MeasurementConfiguration) {
        energyJoules = measured.energyJoules
        energySource = measured.energySource
        energyByMeter = measured.energyByMeter
        energyModel = meters.compactMap { ($0 as? EstimateMeter)?.constants }.first.flatMap { measured.energySource == "estimate" ? $0 : nil }
        co2eGrams = intensity.grams(forJoules: measured.energyJoules)
        carbonIntensityGPerKWh = intensity.gramsPerKWh
        carbonIntensitySource = intensity.source
        traceHz = configuration.traceHz
        traceSamples = measured.rows.count
        traceSummary = measured.summary
        traceOverheadSeconds = measured.samplerSeconds
        if peakRSSMethod == "sampled" { peakRSSBytes = max(peakRSSBytes, Int(measured.sampledPeakResidentBytes)) }
    }

    /// Pretty, key-sorted JSON.
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try encoder.encode(self)
    }

    /// Writes the record to `path` atomically (a temporary file renamed into place).
    public func write(to path: String) throws {
        let url = URL(fileURLWithPath: path)
        do {
            try jsonData().write(to: url, options: .atomic)
        } catch {
            throw ConfigurationError(field: "--output", problem: "cannot write \(path): \(error.localizedDescription)")
        }
    }

    /// The record as the results store keeps it.
    public func stored(trace: [[Double?]]) throws -> StoredRun {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let hyperparametersJSON = String(decoding: try encoder.encode(hyperparameters), as: UTF8.self)
        return StoredRun(
            startedAt: startedAt, algorithm: algorithm, dataset: dataset, architecture: architecture, seed: Int64(bitPattern: seed),
            status: status, failureReason: failureReason, testAccuracy: testAccuracy, effectiveEpochs: effectiveEpochs,
            trainSeconds: trainSeconds, samplesPerSecond: samplesPerSecond, trainFlops: Int64(trainFlops),
            energyJoules: energyJoules, energySource: energySource, co2eGrams: co2eGrams, peakRSSBytes: Int64(peakRSSBytes),
            threads: threads, hyperparametersJSON: hyperparametersJSON, recordJSON: String(decoding: try jsonData(), as: UTF8.self),
            role: role, study: study, trialNumber: trialNumber, comparison: comparison, epochs: epochs, stages: stages,
            traceColumns: TraceRow.columns, traceRows: trace)
    }
}
