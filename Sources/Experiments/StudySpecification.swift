import Algorithms
import CUDA
import Foundation
import Records
import Results
import TensorCore
import Training
import Tuning

/// Everything that determines a tuning study: every trial's run is this configuration plus the
/// parameters its sampler chose. Arms of one comparison get their specifications from one
/// place (`Benchmark`), so they share budgets, epochs and pruning by construction.
public struct StudySpecification: Sendable, Equatable {
    /// Whether unpromising trials are stopped early (protocol §4: off by default, and for all arms or none).
    public enum Pruner: String, Sendable, Codable, CaseIterable { case none, median }

    public var name: String
    public var algorithm: String
    /// nil means the algorithm's default on the dataset.
    public var architecture: Architecture?
    public var dataset: String
    /// The base seed: trials train with it; the sampler seed derives from it and the name.
    public var seed: UInt64
    /// Trials to finish.
    public var trials: Int
    /// The stopping rule of every trial (its cap is the epoch budget per trial).
    public var stopping: StoppingRule
    public var trainLimit: Int?
    public var sampler: StudySampler.Kind
    public var pruner: Pruner
    /// Fixed `--set` options of every trial (not searched).
    public var options: [String: String]
    /// Not part of the study's identity: where the data is, threads, measurement settings.
    public var dataDirectory: String?
    public var threads: Int
    public var measurement = MeasurementConfiguration()
    /// Where every trial computes (`--device`): each run records it with its GPU.
    public var device = Device.cpu
    /// cuBLAS's and cuDNN's math on a GPU (`--gpu-math`).
    public var gpuMath = CUBLAS.Math.fp32
    /// Part of the study's identity (its settings).
    public var trainingProtocol = TrainingProtocol.harmonized
    /// What the study optimises: validation accuracy (maximised) first, then at most one cost
    /// (minimised) for a multi-objective study (`--objectives`).
    public var objectives: [Objective] = [.validationAccuracy]

    /// A quantity a trial's run yields that a study can optimise.
    public enum Objective: String, Sendable, CaseIterable {
        case validationAccuracy = "validation_accuracy", energyJoules = "energy_joules", trainSeconds = "train_seconds"
        case peakMemory = "peak_memory"

        /// Accuracy is maximised, every cost minimised.
        public var studyObjective: StudyObjective {
            StudyObjective(name: rawValue, direction: self == .validationAccuracy ? .maximize : .minimize)
        }

        /// The value in a run's record (peak memory: the peak resident bytes), or nil when the
        /// run has none (energy without a meter or estimate).
        public func value(of record: RunRecord) -> Double? {
            switch self {
            case .validationAccuracy: record.bestValidationAccuracy
            case .energyJoules: record.energyJoules
            case .trainSeconds: record.trainSeconds
            case .peakMemory: Double(record.peakRSSBytes)
            }
        }

        /// `validation_accuracy,energy_joules`: accuracy first, then one cost; the error names the flag.
        public static func list(parsing text: String) throws -> [Objective] {
            let names = text.split(separator: ",", omittingEmptySubsequences: false).map { String($0).trimmingCharacters(in: .whitespaces) }
            let choices = allCases.map(\.rawValue).joined(separator: ", ")
            let objectives = try names.map { name in
                guard let objective = Objective(rawValue: name) else {
                    throw ConfigurationError(field: "--objectives", problem: "unknown objective '\(name)'; choose from \(choices)")
                }
                return objective
            }
            guard objectives.first == .validationAccuracy, objectives.count <= 2, Set(objectives).count == objectives.count else {
                throw ConfigurationError(field: "--objectives", problem: "validation_accuracy first (maximised), then at most one of "
                                         + "energy_joules, train_seconds, peak_memory (minimised); got '\(text)'")
            }
            return objectives
        }
    }

    public init(name: String? = nil, algorithm: String, architecture: Architecture? = nil, dataset: String, seed: UInt64,
                trials: Int, stopping: StoppingRule, trainLimit: Int? = nil, sampler: StudySampler.Kind = .tpe,
                pruner: Pruner = .none, options: [String: String] = [:], dataDirectory: String? = nil, threads: Int) {
        self.algorithm = algorithm
        self.architecture = architecture
        self.dataset = dataset
        self.seed = seed
        self.trials = trials
        self.stopping = stopping
        self.trainLimit = trainLimit
        self.sampler = sampler
        self.pruner = pruner
        self.options = options
        self.dataDirectory = dataDirectory
        self.threads = threads
        self.name = name ?? Self.defaultName(algorithm: algorithm, architecture: architecture, dataset: dataset,
                                             epochs: stopping.maxEpochs, trainLimit: trainLimit, seed: seed)
    }

    /// `algorithm-dataset-architecture-eEPOCHS[-nLIMIT]-sSEED`, e.g. `mf-fashion-mnist-mlp-2x1000-e3-n6000-s1`.
    public static func defaultName(algorithm: String, architecture: Architecture?, dataset: String, epochs: Int,
                                   trainLimit: Int?, seed: UInt64) -> String {
        let network = architecture?.description ?? "default"
        return "\(algorithm)-\(dataset)-\(network)-e\(epochs)" + (trainLimit.map { "-n\($0)" } ?? "") + "-s\(seed)"
    }

    /// Checks the settings before any trial runs; the error names the flag.
    public func validate() throws {
        guard trials >= 1 else { throw ConfigurationError(field: "--trials", problem: "must be at least 1, got \(trials)") }
        guard !name.isEmpty else { throw ConfigurationError(field: "--study", problem: "must not be empty") }
        // Bytes that are not UTF-8 arrive as U+FFFD: names differing only in them would be one study.
        guard !name.contains("\u{FFFD}") else {
            throw ConfigurationError(field: "--study", problem: "must be valid UTF-8 (the name given holds bytes that are not, shown as \u{FFFD})")
        }
        if objectives.count > 1, pruner != .none {
            throw ConfigurationError(field: "--pruner", problem: "\(pruner.rawValue) cannot prune a multi-objective study (as Optuna's pruners, "
                                     + "whose Trial.report raises NotImplementedError with several objectives); use --pruner none")
        }
        let space = try searchSpace()
        guard !space.isEmpty else { throw ConfigurationError(field: "--algorithm", problem: "\(algorithm) declares no searched hyperparameters") }
        for key in options.keys where space.contains(where: { "\(optionPrefix).\($0.name)" == key }) {
            throw ConfigurationError(field: "--set", problem: "\(key) is searched by the study; it cannot also be fixed")
        }
        try runConfiguration(parameters: Dictionary(uniqueKeysWithValues: space.map { ($0.name, $0.distribution.midpoint) })).validate()
    }

    /// The `--set` prefix of the algorithm's options (a variant id's base, e.g. `cafo` for `cafo-rand-ce`).
    var optionPrefix: String { (try? AlgorithmRegistry.algorithm(algorithm).id) ?? algorithm }

    /// The searched hyperparameters (protocol §4), log-uniform, as the sampler sees them.
    public func searchSpace() throws -> [(name: String, distribution: SearchDistribution)] {
        try AlgorithmRegistry.searchSpace(for: algorithm, options: options).map { ($0.name, .float(low: $0.range.lowerBound, high: $0.range.upperBound, log: true)) }
    }

    /// The run of one trial: this study's settings with the trial's parameters as `--set` options.
    public func runConfiguration(parameters: [String: Double]) -> RunConfiguration {
        var options = self.options
        for (name, value) in parameters { options["\(optionPrefix).\(name)"] = "\(value)" }
        var configuration = RunConfiguration(algorithm: algorithm, architecture: architecture, dataset: dataset,
                                             dataDirectory: dataDirectory, seed: seed, stopping: stopping,
                                             options: options, trainLimit: trainLimit, threads: threads)
        configuration.measurement = measurement
        configuration.trainingProtocol = trainingProtocol
        configuration.device = device
        configuration.gpuMath = gpuMath
        return configuration
    }

    /// The study as the store keeps it; `settings` holds what defines a trial's run besides the
    /// columns, so that resuming with different settings is caught.
    public func stored() throws -> StoredStudy {
        struct Settings: Encodable {
            let seed: UInt64, patience: Int, minDelta: Double, trainLimit: Int?, options: [String: String], trainingProtocol: String?
            enum CodingKeys: String, CodingKey {
                case seed, patience, minDelta = "min_delta", trainLimit = "train_limit", options, trainingProtocol = "protocol"
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let settings = Settings(seed: seed, patience: stopping.patience, minDelta: stopping.minDelta, trainLimit: trainLimit,
                                options: options, trainingProtocol: trainingProtocol == .harmonized ? nil : trainingProtocol.rawValue)
        let architecture = try self.architecture ?? AlgorithmRegistry.defaultArchitecture(for: algorithm, dataset: dataset)
        var study = StoredStudy(name: name, algorithm: algorithm, dataset: dataset, architecture: architecture.description,
                                sampler: sampler.rawValue, samplerSeed: Int64(StudySampler.seed(studyName: name, baseSeed: seed)),
                                pruner: pruner.rawValue, trialBudget: trials, epochsPerTrial: stopping.maxEpochs,
                                settingsJSON: String(decoding: try encoder.encode(settings), as: UTF8.self),
                                createdAt: ISO8601DateFormatter().string(from: Date()))
        study.objectives = objectives.map(\.studyObjective)
        return study
    }
}

extension SearchDistribution {
    /// A value inside the range (the geometric midpoint for log ranges), for validation.
    var midpoint: Double {
        switch self {
        case .float(let low, let high, let log, _): log ? (low * high).squareRoot() : (low + high) / 2
        case .integer(let low, let high, _, _): Double((low + high) / 2)
        case .categorical: 0
        }
    }
}
