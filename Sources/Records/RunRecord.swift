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

/// How a run's peak resident memory was obtained.
public enum PeakMemoryMethod: String, Sendable, Codable {
    /// The kernel's high-water mark (VmHWM), reset at the window's start.
    case vmhwm
    /// The trace's maximum, where the reset is not possible.
    case sampled
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

/// Why a run exists and where it belongs: known before it starts, so that its record is made
/// whole and never changed afterwards.
public struct RunOrigin: Sendable, Codable, Equatable {
    public var role = RunRole.train
    public var study: String?
    public var trialNumber: Int?
    public var comparison: String?

    /// A single `bpfree train`.
    public init() {}

    /// Trial `number` of `study`.
    public static func trial(_ number: Int, of study: String) -> RunOrigin {
        var origin = RunOrigin()
        origin.role = .trial
        origin.study = study
        origin.trialNumber = number
        return origin
    }

    /// A final run of `study`'s best configuration in a bench's `comparison`.
    public static func final(of study: String, in comparison: String) -> RunOrigin {
        var origin = RunOrigin()
        origin.role = .final
        origin.study = study
        origin.comparison = comparison
        return origin
    }
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
    public var trainingProtocol = TrainingProtocol.harmonized
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
    /// How `peak_rss_bytes` was obtained.
    public var peakRSSMethod = PeakMemoryMethod.sampled
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

    /// Every field of the record, once: its JSON key and where it lives. Decoding and encoding
    /// both walk this table; a new field is one line here.
    static var fields: [Field] {
        [
            Field("algorithm", \.algorithm, required: true), Field("algorithm_descriptor", \.descriptor),
            Field("dataset", \.dataset, required: true), Field("architecture", \.architecture, required: true),
            Field("seed", \.seed, required: true), Field("hyperparameters", \.hyperparameters), Field("stopping", \.stopping),
            Field("protocol", \.trainingProtocol), Field("stage_stopping", \.stageStopping), Field("train_limit", \.trainLimit),
            Field("class_count", \.classCount), Field("epochs", \.epochs), Field("stages", \.stages),
            Field("effective_epochs", \.effectiveEpochs), Field("best_epoch", \.bestEpoch), Field("status", \.status, required: true),
            Field("failure_reason", \.failureReason), Field("test_accuracy", \.testAccuracy), Field("train_seconds", \.trainSeconds),
            Field("train_samples", \.trainSamples), Field("samples_per_second", \.samplesPerSecond), Field("train_flops", \.trainFlops),
            Field("forward_flops_per_sample", \.forwardFlopsPerSample), Field("flops_per_second", \.flopsPerSecond),
            Field("peak_rss_bytes", \.peakRSSBytes), Field("peak_tensor_bytes", \.peakTensorBytes),
            Field("peak_device_bytes", \.peakDeviceBytes), Field("threads", \.threads), Field("environment", \.environment),
            Field("started_at", \.startedAt), Field("energy_joules", \.energyJoules), Field("energy_source", \.energySource),
            Field("energy_by_meter", \.energyByMeter), Field("energy_model", \.energyModel), Field("co2e_grams", \.co2eGrams),
            Field("carbon_intensity_g_per_kwh", \.carbonIntensityGPerKWh), Field("carbon_intensity_source", \.carbonIntensitySource),
            Field("peak_rss_method", \.peakRSSMethod), Field("peak_rss_above_start_bytes", \.peakRSSAboveStartBytes),
            Field("window_contention", \.windowContention), Field("trace_hz", \.traceHz), Field("trace_samples", \.traceSamples),
            Field("trace_summary", \.traceSummary), Field("trace_overhead_seconds", \.traceOverheadSeconds),
            Field("data_load_seconds", \.dataLoadSeconds), Field("inference", \.inference), Field("role", \.role),
            Field("study", \.study), Field("trial_number", \.trialNumber), Field("comparison", \.comparison),
        ]
    }

    /// One field: how it is written and read under its key.
    struct Field {
        let key: Key
        let encode: (RunRecord, inout KeyedEncodingContainer<Key>) throws -> Void
        let decode: (inout RunRecord, KeyedDecodingContainer<Key>) throws -> Void

        /// A field at `path`; an optional one is written as `null` when absent. A missing key
        /// leaves the field at its empty value (records of earlier builds), unless `required`.
        init<T: Codable>(_ name: String, _ path: WritableKeyPath<RunRecord, T>, required: Bool = false) {
            let key = Key(name)
            self.key = key
            encode = { record, container in try container.encode(record[keyPath: path], forKey: key) }
            decode = { record, container in
                if required {
                    record[keyPath: path] = try container.decode(T.self, forKey: key)
                } else if let value = try container.decodeIfPresent(T.self, forKey: key) {
                    record[keyPath: path] = value
                }
            }
        }
    }

    struct Key: CodingKey {
        let stringValue: String
        init(_ name: String) { stringValue = name }
        init?(stringValue: String) { self.stringValue = stringValue }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }

    /// Reads a record; keys that records of earlier builds lack take their empty values.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        self.init(algorithm: "", dataset: "", architecture: "", seed: 0, status: .failed)
        for field in Self.fields { try field.decode(&self, container) }
    }

    /// Encodes every key, writing `null` for absent values (so the schema is always complete).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        for field in Self.fields { try field.encode(self, &container) }
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
