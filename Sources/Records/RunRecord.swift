import Foundation

/// How a run ended.
public enum RunStatus: String, Sendable, Codable, CaseIterable {
    /// Trained to its stopping rule and tested.
    case completed
    /// Stopped early for a reason (a non-finite loss, an empty split); not tested.
    case failed
    /// Stopped by a tuner pruning the trial; not tested.
    case pruned
    /// Stopped by a signal (SIGINT, SIGTERM) at a batch boundary; not tested.
    case interrupted
}

/// Why a run exists.
public enum RunRole: String, Sendable, Codable, CaseIterable {
    /// A single `bpfree train`.
    case train
    /// A tuning trial of `study`.
    case trial
    /// A benchmark's retraining of a study's best hyperparameters, in a `comparison`.
    case final
}

/// The record of one training run, from the trainer to the store and the report: written as JSON
/// (snake_case keys, every key present, `null` for absent values), kept whole in the store, and
/// read back as this same type. Like Optuna's `FrozenTrial`, a value: nothing changes it once
/// the run has ended.
public struct RunRecord: Sendable, Codable, Equatable {
    /// The stopping rule a run (or one of its stages) used.
    public struct Stopping: Sendable, Codable, Equatable {
        /// `val_loss` or `val_accuracy`.
        public var monitor: String
        public var patience: Int
        public var minDelta: Double
        public var maxEpochs: Int

        enum CodingKeys: String, CodingKey {
            case monitor, patience, minDelta = "min_delta", maxEpochs = "max_epochs"
        }

        public init(monitor: String, patience: Int, minDelta: Double, maxEpochs: Int) {
            self.monitor = monitor
            self.patience = patience
            self.minDelta = minDelta
            self.maxEpochs = maxEpochs
        }
    }

    public var algorithm: String
    /// What the algorithm is in a comparison (nil in records of builds before descriptors).
    public var descriptor: AlgorithmDescriptor?
    public var dataset: String
    public var architecture: String
    public var seed: UInt64
    public var hyperparameters: [String: HyperparameterValue] = [:]
    public var stopping = Stopping(monitor: "val_loss", patience: 0, minDelta: 0, maxEpochs: 0)
    /// `harmonized` or `seed-paper`.
    public var trainingProtocol = "harmonized"
    /// Rules of their own for stages (by stage-name prefix), under seed-paper.
    public var stageStopping: [String: Stopping]?
    public var trainLimit: Int?
    /// The dataset's number of classes (chance accuracy is its inverse).
    public var classCount: Int?
    public var epochs: [EpochRecord] = []
    public var stages: [StageRecord] = []
    public var effectiveEpochs = 0
    public var bestEpoch = 0
    public var status: RunStatus
    /// Why the run failed, was pruned or was interrupted.
    public var failureReason: String?
    public var testAccuracy: Double?
    public var trainSeconds = 0.0
    public var trainSamples = 0
    public var samplesPerSecond = 0.0
    public var trainFlops = 0
    public var forwardFlopsPerSample: Double?
    public var flopsPerSecond = 0.0
    public var peakRSSBytes = 0
    public var peakTensorBytes = 0
    /// Peak bytes of the GPU's tensors over the window, from bpfree's caching allocator (the
    /// analogue of `torch.cuda.max_memory_allocated`); nil for a run on the CPU.
    public var peakDeviceBytes: Int?
    public var threads = 1
    public var environment: EnvironmentInfo?
    /// ISO 8601, UTC.
    public var startedAt = ""
    /// Joules over the window, from `energySource`.
    public var energyJoules: Double?
    /// `rapl`, `nvml`, `rapl+nvml` or `estimate` (never a measurement when it says estimate).
    public var energySource: String?
    public var energyByMeter: [String: Double]?
    /// The estimate model's constants, present only when the source is `estimate`.
    public var energyModel: EnergyModel?
    public var co2eGrams: Double?
    public var carbonIntensityGPerKWh: Double?
    /// Where the carbon intensity comes from: `country:ISO3`, `world-average` or `given`.
    public var carbonIntensitySource: String?
    /// How `peak_rss_bytes` was obtained: `vmhwm` (kernel high-water mark reset at the window
    /// start) or `sampled` (the trace's maximum, where the reset is not possible).
    public var peakRSSMethod = "sampled"
    /// The window's peak resident memory above its start (`peak_rss_bytes` less the resident
    /// set when the window opened): the memory training itself needed, the same alone, in a
    /// bench after other arms, or as a trial; nil for records of earlier builds.
    public var peakRSSAboveStartBytes: Int?
    /// What else used the CPUs over the training window (other processes' CPU seconds, the
    /// hypervisor's steal) and whether that counts as measuring under load; nil where /proc is
    /// missing and for records of earlier builds.
    public var windowContention: Contention?
    public var traceHz: Double?
    public var traceSamples: Int?
    /// Seconds the trace sampler itself ran (its overhead on the window).
    public var traceOverheadSeconds: Double?
    /// Mean and maximum of each trace column over the window.
    public var traceSummary: [String: ColumnSummary]?
    /// What a prediction costs with the tested model (absent for failed runs and earlier builds).
    public var inference: InferenceRecord?
    /// Seconds spent loading the data before the window (decoded cache or source files).
    public var dataLoadSeconds: Double?
    public var role = RunRole.train
    /// The study of a trial or a final run.
    public var study: String?
    /// A trial's number within its study.
    public var trialNumber: Int?
    /// The benchmark comparison of a final run.
    public var comparison: String?
    /// How a scaling suite's comparisons begin: its runs are points of cost curves, not comparisons.
    public static let scalingComparisonPrefix = "scaling:"

    /// A record with the identifying fields set and everything else at its empty value.
    public init(algorithm: String, dataset: String, architecture: String, seed: UInt64, status: RunStatus) {
        self.algorithm = algorithm
        self.dataset = dataset
        self.architecture = architecture
        self.seed = seed
        self.status = status
    }

    /// The hyperparameters as `key=value` pairs sorted by key, separated by spaces.
    public var hyperparameterSummary: String {
        hyperparameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    }

    /// The validation accuracy of the weights the last stage kept (the tuning objective); nil
    /// when no epoch ran.
    public var bestValidationAccuracy: Double? {
        guard let last = stages.last else { return nil }
        let kept = last.restoredEpoch ?? last.bestEpoch
        return epochs.last { $0.stage == last.name && $0.epoch == kept }?.validationAccuracy
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case algorithm, descriptor = "algorithm_descriptor", dataset, architecture, seed, hyperparameters, stopping
        case trainingProtocol = "protocol", stageStopping = "stage_stopping"
        case trainLimit = "train_limit", classCount = "class_count", epochs, stages
        case effectiveEpochs = "effective_epochs", bestEpoch = "best_epoch", status
        case failureReason = "failure_reason", testAccuracy = "test_accuracy"
        case trainSeconds = "train_seconds", trainSamples = "train_samples"
        case samplesPerSecond = "samples_per_second", trainFlops = "train_flops"
        case forwardFlopsPerSample = "forward_flops_per_sample", flopsPerSecond = "flops_per_second"
        case peakRSSBytes = "peak_rss_bytes", peakTensorBytes = "peak_tensor_bytes", peakDeviceBytes = "peak_device_bytes"
        case threads, environment, startedAt = "started_at"
        case energyJoules = "energy_joules", energySource = "energy_source", energyByMeter = "energy_by_meter"
        case energyModel = "energy_model", co2eGrams = "co2e_grams", carbonIntensityGPerKWh = "carbon_intensity_g_per_kwh"
        case carbonIntensitySource = "carbon_intensity_source", peakRSSMethod = "peak_rss_method", peakRSSAboveStartBytes = "peak_rss_above_start_bytes", windowContention = "window_contention"
        case traceHz = "trace_hz", traceSamples = "trace_samples", traceSummary = "trace_summary"
        case traceOverheadSeconds = "trace_overhead_seconds", dataLoadSeconds = "data_load_seconds", inference
        case role, study, trialNumber = "trial_number", comparison
    }

    /// Reads a record; keys that records of earlier builds lack take their empty values.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        algorithm = try c.decode(String.self, forKey: .algorithm)
        dataset = try c.decode(String.self, forKey: .dataset)
        architecture = try c.decode(String.self, forKey: .architecture)
        seed = try c.decode(UInt64.self, forKey: .seed)
        status = try c.decode(RunStatus.self, forKey: .status)
        func read<T: Decodable>(_ key: CodingKeys, _ value: inout T) throws {
            if let decoded = try c.decodeIfPresent(T.self, forKey: key) { value = decoded }
        }
        func read<T: Decodable>(_ key: CodingKeys, _ value: inout T?) throws {
            value = try c.decodeIfPresent(T.self, forKey: key)
        }
        try read(.descriptor, &descriptor)
        try read(.hyperparameters, &hyperparameters)
        try read(.stopping, &stopping)
        try read(.trainingProtocol, &trainingProtocol)
        try read(.stageStopping, &stageStopping)
        try read(.trainLimit, &trainLimit)
        try read(.classCount, &classCount)
        try read(.epochs, &epochs)
        try read(.stages, &stages)
        try read(.effectiveEpochs, &effectiveEpochs)
        try read(.bestEpoch, &bestEpoch)
        try read(.failureReason, &failureReason)
        try read(.testAccuracy, &testAccuracy)
        try read(.trainSeconds, &trainSeconds)
        try read(.trainSamples, &trainSamples)
        try read(.samplesPerSecond, &samplesPerSecond)
        try read(.trainFlops, &trainFlops)
        try read(.forwardFlopsPerSample, &forwardFlopsPerSample)
        try read(.flopsPerSecond, &flopsPerSecond)
        try read(.peakRSSBytes, &peakRSSBytes)
        try read(.peakTensorBytes, &peakTensorBytes)
        try read(.peakDeviceBytes, &peakDeviceBytes)
        try read(.threads, &threads)
        try read(.environment, &environment)
        try read(.startedAt, &startedAt)
        try read(.energyJoules, &energyJoules)
        try read(.energySource, &energySource)
        try read(.energyByMeter, &energyByMeter)
        try read(.energyModel, &energyModel)
        try read(.co2eGrams, &co2eGrams)
        try read(.carbonIntensityGPerKWh, &carbonIntensityGPerKWh)
        try read(.carbonIntensitySource, &carbonIntensitySource)
        try read(.peakRSSMethod, &peakRSSMethod)
        peakRSSAboveStartBytes = try c.decodeIfPresent(Int.self, forKey: .peakRSSAboveStartBytes)
        windowContention = try c.decodeIfPresent(Contention.self, forKey: .windowContention)
        try read(.traceHz, &traceHz)
        try read(.traceSamples, &traceSamples)
        try read(.traceSummary, &traceSummary)
        try read(.traceOverheadSeconds, &traceOverheadSeconds)
        try read(.dataLoadSeconds, &dataLoadSeconds)
        try read(.inference, &inference)
        try read(.role, &role)
        try read(.study, &study)
        try read(.trialNumber, &trialNumber)
        try read(.comparison, &comparison)
    }

    /// Encodes every key, writing `null` for absent values (so the schema is always complete).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(algorithm, forKey: .algorithm)
        try c.encode(descriptor, forKey: .descriptor)
        try c.encode(dataset, forKey: .dataset)
        try c.encode(architecture, forKey: .architecture)
        try c.encode(seed, forKey: .seed)
        try c.encode(hyperparameters, forKey: .hyperparameters)
        try c.encode(stopping, forKey: .stopping)
        try c.encode(trainingProtocol, forKey: .trainingProtocol)
        try c.encode(stageStopping, forKey: .stageStopping)
        try c.encode(trainLimit, forKey: .trainLimit)
        try c.encode(classCount, forKey: .classCount)
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
        try c.encodeIfPresent(peakDeviceBytes, forKey: .peakDeviceBytes)
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
        try c.encodeIfPresent(peakRSSAboveStartBytes, forKey: .peakRSSAboveStartBytes)
        try c.encodeIfPresent(windowContention, forKey: .windowContention)
        try c.encode(traceHz, forKey: .traceHz)
        try c.encode(traceSamples, forKey: .traceSamples)
        try c.encode(traceSummary, forKey: .traceSummary)
        try c.encode(traceOverheadSeconds, forKey: .traceOverheadSeconds)
        try c.encode(dataLoadSeconds, forKey: .dataLoadSeconds)
        try c.encode(inference, forKey: .inference)
        try c.encode(role, forKey: .role)
        try c.encode(study, forKey: .study)
        try c.encode(trialNumber, forKey: .trialNumber)
        try c.encode(comparison, forKey: .comparison)
    }

    /// Pretty, key-sorted JSON (non-finite numbers as the strings `nan`, `inf`, `-inf`).
    public func jsonData(pretty: Bool = true) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try encoder.encode(self)
    }

    /// Reads a record written by `jsonData`.
    public static func decoded(from data: Data) throws -> RunRecord {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try decoder.decode(RunRecord.self, from: data)
    }
}
