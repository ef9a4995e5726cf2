import Foundation
import Algorithms
import CUDA
import Datasets
import Records
import TensorCore
import Training

/// Everything that determines one training run, as given on the command line.
public struct RunConfiguration: Sendable, Equatable, Codable {
    public var algorithm: String
    /// The network; nil means the algorithm's default.
    public var architecture: Architecture?
    public var dataset: String
    public var dataDirectory: String?
    public var seed: UInt64
    public var stopping: StoppingRule
    public var overrides: CommonHyperparameters
    /// `--set prefix.name=value` options.
    public var options: [String: String]
    /// Use only the first N training samples.
    public var trainLimit: Int?
    /// Kernel and BLAS threads.
    public var threads: Int
    /// Energy, CO2e and trace settings.
    public var measurement = MeasurementConfiguration()
    /// Harmonized (default) or the original study's rules (`--protocol seed-paper`).
    public var trainingProtocol = TrainingProtocol.harmonized
    /// Where the run computes (`--device`).
    public var device = Device.cpu
    /// cuBLAS's and cuDNN's math on a GPU (`--gpu-math`): FP32, or TF32 tensor cores.
    public var gpuMath = CUBLAS.Math.fp32
    /// A single run, a study's trial or a bench's final run (its record says so).
    public var origin = RunOrigin()

    /// The datasets `--dataset` accepts.
    public static let datasets = ImageClassificationDataset.allCases.map(\.rawValue) + ["synthetic"]

    /// A configuration.
    public init(algorithm: String, architecture: Architecture? = nil, dataset: String, dataDirectory: String? = nil,
                seed: UInt64, stopping: StoppingRule = .harmonized, overrides: CommonHyperparameters = .init(),
                options: [String: String] = [:], trainLimit: Int? = nil, threads: Int) {
        self.algorithm = algorithm
        self.architecture = architecture
        self.dataset = dataset
        self.dataDirectory = dataDirectory
        self.seed = seed
        self.stopping = stopping
        self.overrides = overrides
        self.options = options
        self.trainLimit = trainLimit
        self.threads = threads
    }

    /// Checks the settings that no type enforces; the error names the flag.
    /// Refuses more kernel threads than the logical CPUs of the machine the run is on (BLAS
    /// would cap them silently while the record kept the number asked for).
    public static func checkThreadsFitThisMachine(_ threads: Int, flag: String = "--threads") throws {
        let cpus = ProcessInfo.processInfo.activeProcessorCount
        guard threads <= cpus else {
            throw ConfigurationError(field: flag, problem: "at most the \(cpus) logical CPUs of this machine, got \(threads)")
        }
    }

    public func validate() throws {
        _ = try AlgorithmRegistry.algorithm(algorithm)
        if gpuMath != .fp32, device == .cpu {
            throw ConfigurationError(field: "--gpu-math", problem: "\(gpuMath.name) is cuBLAS's and cuDNN's math on a GPU; this run computes on the CPU (--device cuda)")
        }
        if dataset.hasPrefix("synthetic") {
            do { _ = try SyntheticDataset.Specification(parsing: dataset) } catch let error as DatasetError {
                throw ConfigurationError(field: "--dataset", problem: error.problem)
            }
        } else if ImageClassificationDataset(rawValue: dataset) == nil {
            throw ConfigurationError(field: "--dataset", problem: "unknown dataset '\(dataset)'; valid: \(Self.datasets.joined(separator: ", ")) (synthetic:samples=N,classes=C,shape=AxB,noise=X)")
        }
        guard stopping.maxEpochs >= 1 else { throw ConfigurationError(field: "--epochs", problem: "must be at least 1, got \(stopping.maxEpochs)") }
        guard stopping.patience >= 1 else { throw ConfigurationError(field: "--patience", problem: "must be at least 1, got \(stopping.patience)") }
        guard stopping.minDelta >= 0 else { throw ConfigurationError(field: "--min-delta", problem: "must not be negative, got \(stopping.minDelta)") }
        if let limit = trainLimit, limit < 1 { throw ConfigurationError(field: "--train-limit", problem: "must be at least 1, got \(limit)") }
        if let size = overrides.batchSize, size < 1 { throw ConfigurationError(field: "--batch-size", problem: "must be at least 1, got \(size)") }
        if let rate = overrides.learningRate, !(rate > 0 && rate.isFinite) {
            throw ConfigurationError(field: "--learning-rate", problem: "must be a positive number, got \(rate)")
        }
        if let decay = overrides.weightDecay, !(decay >= 0 && decay.isFinite) {
            throw ConfigurationError(field: "--weight-decay", problem: "must be zero or positive, got \(decay)")
        }
        guard threads >= 1 else { throw ConfigurationError(field: "--threads", problem: "must be at least 1, got \(threads)") }
        try measurement.validate()
        // Unknown or ill-typed options, before any data is loaded.
        _ = try AlgorithmRegistry.hyperparameters(for: algorithm, common: overrides, options: options)
    }

    /// Loads the dataset's splits (protocol §2), the training split cut to `trainLimit`.
    public func loadData() throws -> DataSplits {
        var splits: DataSplits
        if let known = ImageClassificationDataset(rawValue: dataset) {
            splits = try known.load(dataDirectory: dataDirectory, seed: seed)
        } else {
            splits = try SyntheticDataset.Specification(parsing: dataset).splits(seed: seed)
        }
        splits.train = splits.train.prefix(trainLimit)
        return splits
    }
}

extension RunConfiguration {
    /// `--set key=value` settings as a dictionary (a later one wins); the error names a
    /// malformed one.
    public static func options(parsing settings: [String]) throws -> [String: String] {
        var options: [String: String] = [:]
        for setting in settings {
            let parts = setting.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty else {
                throw ConfigurationError(field: "--set", problem: "'\(setting)' is not of the form key=value (e.g. ff.normalization=l2)")
            }
            options[parts[0]] = parts[1]
        }
        return options
    }
}

extension RunConfiguration {
    /// The `--set` options with a protocol's `defaults` under them: a default gives way to the
    /// user's own option and to the common flags (`--learning-rate`, `--weight-decay`, `--batch-size`).
    func options(with defaults: [String: String]) -> [String: String] {
        let flagged = [("learning_rate", overrides.learningRate != nil), ("weight_decay", overrides.weightDecay != nil),
                       ("batch_size", overrides.batchSize != nil)].filter(\.1).map { "." + $0.0 }
        return defaults.filter { key, _ in !flagged.contains { key.hasSuffix($0) } }.merging(options) { $1 }
    }
}
