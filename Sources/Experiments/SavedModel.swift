import Algorithms
import Datasets
import Foundation
import Metering
import NeuralNetwork
import Records
import TensorCore
import Training

/// A trained model kept as a safetensors file: the tested weights (the checkpoint the restore
/// rule kept) in PyTorch's layouts, named as bpfree names them, and string metadata that alone
/// says how to predict: the algorithm and all its hyperparameters, its inference rule, the
/// architecture, the input shape and normalisation, the dataset and the run.
public struct SavedModel: Sendable {
    /// What a saved model's metadata says.
    public struct Description: Sendable, Equatable {
        /// The algorithm or variant id, as `--algorithm` takes it.
        public var algorithm: String
        /// Every hyperparameter, by name without its prefix, as `--set` writes the value.
        public var hyperparameters: [String: String]
        public var architecture: String
        /// One sample's shape (C×H×W for images).
        public var inputShape: [Int]
        public var classCount: Int
        public var dataset: String
        /// The run's seed (the validation split and the synthetic data depend on it).
        public var seed: UInt64
    }

    /// The version of the metadata bpfree writes (`bpfree` key).
    public static let formatVersion = "1"

    public var description: Description
    /// The file's contents.
    public var file: SafeTensors

    /// A model file's or a command's disagreement, naming the file and the field.
    public struct Mismatch: Error, CustomStringConvertible {
        public let description: String
    }

    /// The finished model of a run: its `modelState` in PyTorch's layouts, with metadata (the
    /// store's `run_id` is added once the run is stored).
    public init(_ built: AlgorithmRegistry.Built, configuration: RunConfiguration, inputShape: [Int], classCount: Int,
                record: RunRecord) {
        description = Description(algorithm: configuration.algorithm,
                                  hyperparameters: built.hyperparameters.values.mapValues(\.description),
                                  architecture: built.architecture.description, inputShape: inputShape, classCount: classCount,
                                  dataset: configuration.dataset, seed: configuration.seed)
        var tensors: [String: SafeTensors.Entry] = [:]
        for state in built.algorithm.modelState {
            let value = state.portableValue
            tensors[state.name] = SafeTensors.Entry(shape: value.shape, scalars: value.scalars)
        }
        let hyperparameters = description.hyperparameters.sorted { $0.key < $1.key }
        var metadata: [String: String] = [
            "format": "pt",
            "bpfree": Self.formatVersion,
            "algorithm": description.algorithm,
            "hyperparameters": Self.json(Dictionary(uniqueKeysWithValues: hyperparameters)),
            "set": hyperparameters.map { "\(built.hyperparameters.prefix).\($0.key)=\($0.value)" }.joined(separator: " "),
            "architecture": description.architecture,
            "input_shape": Self.json(inputShape),
            "classes": "\(classCount)",
            "dataset": configuration.dataset,
            "normalization": Self.normalization(of: configuration.dataset),
            "inference": built.inferenceRule,
            "layout": "PyTorch's: Linear weight out×in; Conv2d weight out×in×kh×kw (3×3, stride 1, padding 1, no bias); "
                + "a dense layer after a convolutional block reads its map flattened as C×H×W; BatchNorm2d running_var unbiased",
            "seed": "\(configuration.seed)",
            "started_at": record.startedAt,
            "tested_epoch": record.stages.last.map { "\($0.restore ?? "best") \($0.restoredEpoch ?? $0.bestEpoch)" } ?? "",
        ]
        if let accuracy = record.testAccuracy { metadata["test_accuracy"] = "\(accuracy)" }
        file = SafeTensors(metadata: metadata, tensors: tensors)
    }

    /// Reads a model file; the error names it and says what is wrong.
    public init(contentsOf path: String) throws {
        func fail(_ problem: String) -> Mismatch { Mismatch(description: "--model \(path): \(problem)") }
        let bytes: [UInt8]
        do { bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path))) } catch {
            throw fail("cannot read it (\((error as NSError).localizedDescription))")
        }
        do { file = try SafeTensors(decoding: bytes) } catch { throw fail("not a safetensors file: \(error)") }
        let metadata = file.metadata
        guard metadata["bpfree"] == Self.formatVersion else {
            throw fail(metadata["bpfree"] == nil ? "no bpfree metadata: bpfree evaluates the models it saves (train --save-model)"
                                                 : "saved in model format \(metadata["bpfree"]!), this bpfree reads \(Self.formatVersion)")
        }
        func field(_ name: String) throws -> String {
            guard let value = metadata[name] else { throw fail("metadata lacks '\(name)'") }
            return value
        }
        let hyperparameters = try JSONSerialization.jsonObject(with: Data(try field("hyperparameters").utf8)) as? [String: String]
        let inputShape = try JSONSerialization.jsonObject(with: Data(try field("input_shape").utf8)) as? [Int]
        guard let hyperparameters, let inputShape, !inputShape.isEmpty, inputShape.allSatisfy({ $0 > 0 }),
              let classCount = Int(try field("classes")), classCount > 1, let seed = UInt64(try field("seed")) else {
            throw fail("metadata 'hyperparameters', 'input_shape', 'classes' or 'seed' is malformed")
        }
        description = Description(algorithm: try field("algorithm"), hyperparameters: hyperparameters,
                                  architecture: try field("architecture"), inputShape: inputShape, classCount: classCount,
                                  dataset: try field("dataset"), seed: seed)
    }

    /// Writes the file atomically (a temporary file renamed over `path`).
    public func write(to path: String) throws {
        do { try Data(try file.encoded()).write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw Mismatch(description: "--save-model: cannot write \(path): \((error as NSError).localizedDescription)")
        }
    }

    /// The model rebuilt from the metadata, its state loaded from the tensors; a tensor
    /// missing, extra or of another shape is an error naming it.
    public func rebuild(path: String) throws -> AlgorithmRegistry.Built {
        func fail(_ problem: String) -> Mismatch { Mismatch(description: "--model \(path): \(problem)") }
        let prefix: String
        do { prefix = try AlgorithmRegistry.algorithm(description.algorithm).id } catch { throw fail("\(error)") }
        let options = Dictionary(uniqueKeysWithValues: description.hyperparameters.map { ("\(prefix).\($0.key)", $0.value) })
        let built: AlgorithmRegistry.Built
        do {
            let architecture = try Architecture(parsing: description.architecture)
            let batchSize = Int(description.hyperparameters["batch_size"] ?? "") ?? 1
            try MemoryEstimate(architecture, inputShape: description.inputShape, classCount: description.classCount, batchSize: batchSize)
                .check(architecture: architecture, batchSize: batchSize)
            built = try AlgorithmRegistry.make(id: description.algorithm, architecture: architecture,
                                               inputShape: description.inputShape, classCount: description.classCount,
                                               options: options, seed: description.seed)
        } catch { throw fail("its metadata does not build a model: \(error)") }
        let state = built.algorithm.modelState
        let expected = Set(state.map(\.name)), present = Set(file.tensors.keys)
        if let missing = expected.subtracting(present).sorted().first { throw fail("tensor '\(missing)' is missing") }
        if let extra = present.subtracting(expected).sorted().first { throw fail("tensor '\(extra)' is not part of a \(description.algorithm) \(description.architecture) model") }
        for tensor in state {
            let entry = file.tensors[tensor.name]!
            guard entry.shape == tensor.portableShape else {
                throw fail("tensor '\(tensor.name)' has shape \(entry.shape), the model needs \(tensor.portableShape)")
            }
            guard entry.scalars.allSatisfy(\.isFinite) else { throw fail("tensor '\(tensor.name)' holds a value that is not finite") }
            tensor.portableValue = Tensor(shape: entry.shape, scalars: entry.scalars)
        }
        return built
    }

    /// Refuses a command whose `--algorithm`, `--architecture` or `--dataset` differs from the model's.
    public func check(algorithm: String?, architecture: String?, dataset: String?, path: String) throws {
        let model = "the model \(path) is \(description.algorithm) on \(description.architecture), trained on \(description.dataset)"
        for (flag, given, saved) in [("--algorithm", algorithm, description.algorithm), ("--architecture", architecture, description.architecture),
                                     ("--dataset", dataset, description.dataset)] {
            if let given, given != saved { throw Mismatch(description: "\(flag) \(given): \(model)") }
        }
    }

    /// The input normalisation as JSON: per-channel mean and std of `pixel/255`.
    static func normalization(of dataset: String) -> String {
        guard let known = ImageClassificationDataset(rawValue: dataset) else {
            return #"{"input": "synthetic samples, used as generated"}"#
        }
        let (mean, std) = known.channelNormalization
        func list(_ values: [Float]) -> String { "[" + values.map { "\($0)" }.joined(separator: ",") + "]" }
        return #"{"input": "(pixel/255 - mean)/std per channel, samples C×H×W", "mean": \#(list(mean)), "std": \#(list(std))}"#
    }

    static func json(_ value: Any) -> String {
        String(decoding: (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("null".utf8),
               as: UTF8.self)
    }
}

/// `bpfree evaluate`: a saved model's test accuracy and inference cost.
public enum ModelEvaluation {
    /// The test accuracy of a saved model and what a prediction with it costs.
    public struct Result: Sendable {
        public var description: SavedModel.Description
        public var correct: Int
        public var count: Int
        public var accuracy: Double { count == 0 ? 0 : Double(correct) / Double(count) }
        /// The accuracy the run that saved the model reported, if it did.
        public var savedAccuracy: Double?
        public var inference: InferenceRecord?
    }

    /// Loads the model and the test split of its dataset (`dataDirectory` as `--data-dir`),
    /// counts correct predictions at the model's own batch size as its run tested, and
    /// measures the inference cost as a run's `inference` field does.
    public static func run(model path: String, dataDirectory: String?, threads: Int,
                           algorithm: String? = nil, architecture: String? = nil, dataset: String? = nil,
                           measurement: MeasurementConfiguration = .init()) throws -> Result {
        let model = try SavedModel(contentsOf: path)
        try model.check(algorithm: algorithm, architecture: architecture, dataset: dataset, path: path)
        try RunConfiguration.checkThreadsFitThisMachine(threads)
        Parallel.threads = threads
        let configuration = RunConfiguration(algorithm: model.description.algorithm, dataset: model.description.dataset,
                                             dataDirectory: dataDirectory, seed: model.description.seed, threads: threads)
        try configuration.validate()
        let test = try configuration.loadData().test
        guard test.sampleShape == model.description.inputShape, test.classCount == model.description.classCount else {
            throw SavedModel.Mismatch(description: "--model \(path): its samples are \(model.description.inputShape) in "
                                      + "\(model.description.classCount) classes, the data \(test.sampleShape) in \(test.classCount)")
        }
        let built = try model.rebuild(path: path)
        var correct = 0
        var batch = Batch()
        var schedule = BatchSchedule(count: test.count, batchSize: built.batchSize, order: .sequential)
        for index in 0..<schedule.batchCount {
            schedule.fill(&batch, index: index, from: test)
            correct += built.algorithm.countCorrect(batch)
        }
        let meters = MeterDiscovery.discover(estimate: measurement.estimateConstants, raplRoot: measurement.raplRoot,
                                             nvmlLibrary: measurement.nvmlLibrary)
        return Result(description: model.description, correct: correct, count: test.count,
                      savedAccuracy: model.file.metadata["test_accuracy"].flatMap(Double.init),
                      inference: InferenceCost.measure(built.algorithm, test: test, meters: meters.meters))
    }
}
