import Records
import Training

/// What every learning rule declares once, in its own file: its id prefix, hyperparameters with
/// defaults, default architecture, its part in comparisons (role, control, the comparisons the
/// benchmark suites run), what the study did with it, and how to build it. Suites, help texts,
/// conformance tests and run records all read these declarations: the registry is the only list.
public protocol RegisteredAlgorithm: TrainingAlgorithm {
    /// The `--set` prefix and algorithm id, e.g. "mf".
    static var id: String { get }
    /// The hyperparameters, their types and defaults.
    static var hyperparameterSpecs: [HyperparameterSpec] { get }
    /// The architecture used when `--architecture` is not given, on MNIST-like data.
    static var defaultArchitecture: Architecture { get }
    /// The architecture used on CIFAR when `--architecture` is not given (protocol §1).
    static var defaultCIFARArchitecture: Architecture { get }
    /// The part it plays in a comparison (default: a rule under test).
    static var role: AlgorithmDescriptor.Role { get }
    /// The id of the control arm each of its comparisons carries (default: none).
    static var control: String? { get }
    /// The comparisons against its baseline that the benchmark suites run, for it or its variants
    /// (default: none).
    static var comparisons: [DeclaredComparison] { get }
    /// What the original study's code did with this algorithm (protocol `seed-paper`) on
    /// `dataset` (its names: `mnist`, `fmnist`, `cifar10`, `cifar100`) with these options;
    /// epoch caps no larger than `cap`. Nil when the study did not run it.
    static func seedPaper(dataset: String, architecture: Architecture, options: [String: String], cap: Int) -> SeedPaper?
    /// How the finished model predicts with these hyperparameters, in words a reader of a saved
    /// model can follow (default: the argmax of the output layer's logits).
    static func inferenceRule(_ hyperparameters: Hyperparameters) -> String
    /// A fresh model; randomness comes from `seed`'s named streams.
    static func make(architecture: Architecture, inputShape: [Int], classCount: Int,
                     hyperparameters: Hyperparameters, seed: UInt64) throws -> Self
}

extension RegisteredAlgorithm {
    public static var role: AlgorithmDescriptor.Role { .rule }
    public static var control: String? { nil }
    public static var comparisons: [DeclaredComparison] { [] }
    public static func inferenceRule(_ hyperparameters: Hyperparameters) -> String {
        "argmax of the output layer's logits: input → [layerN → ReLU]* → output (or blockN: conv → ReLU → maxpool → bn) → flatten → output"
    }
}

/// A comparison an algorithm declares: it (or one of its variants) against its baseline on one
/// architecture, on the full suite's datasets, and whether and how the quick suite runs it.
public struct DeclaredComparison: Sendable {
    /// How the quick suite (Fashion-MNIST, 6,000 samples) runs the comparison: nil fields take
    /// the comparison's architecture and the suite's budgets.
    public struct Quick: Sendable {
        public var architecture: String?
        public var epochs: Int?
        public var batchSize: Int?

        public init(architecture: String? = nil, epochs: Int? = nil, batchSize: Int? = nil) {
            self.architecture = architecture
            self.epochs = epochs
            self.batchSize = batchSize
        }
    }

    /// The algorithm or variant id.
    public var id: String
    /// As `--architecture` writes it.
    public var architecture: String
    /// The full suite's datasets.
    public var datasets: [String]
    /// The quick suite's run of it; nil leaves it out of the quick suite.
    public var quick: Quick?

    public init(_ id: String, on architecture: String, datasets: [String], quick: Quick? = nil) {
        self.id = id
        self.architecture = architecture
        self.datasets = datasets
        self.quick = quick
    }
}

/// The one place that maps algorithm ids to their implementations.
public enum AlgorithmRegistry {
    /// The algorithms bpfree ships, in the order `--help` lists them.
    static let builtIn: [any RegisteredAlgorithm.Type] = [
        Backpropagation.self, MonoForward.self, ForwardForward.self, DirectFeedbackAlignment.self, CascadedForward.self,
        FeedbackAlignment.self, SignSymmetry.self, DirectRandomTargetProjection.self, PEPITA.self, ForwardGradient.self,
        PredictiveCoding.self, ShallowControl.self,
    ]

    /// Algorithms registered for the current task only, after the built-in ones.
    struct Added: @unchecked Sendable {  // metatypes of classes: nothing mutable is shared
        var types: [any RegisteredAlgorithm.Type] = []
    }
    @TaskLocal static var added = Added()

    /// Every registered algorithm, in the order `--help` lists them.
    public static var all: [any RegisteredAlgorithm.Type] { builtIn + added.types }

    /// Runs `body` with `types` registered after the built-in algorithms, for this task and the
    /// tasks it starts (a new rule's test: it enters every suite, listing and check by this alone).
    public static func including<R>(_ types: [any RegisteredAlgorithm.Type], _ body: () throws -> R) rethrows -> R {
        try $added.withValue(Added(types: added.types + types)) { try body() }
    }

    /// Variant ids: an algorithm with some of its options fixed (the study's names for them).
    public static let variants: [(id: String, base: String, options: [String: String])] =
        ["rand", "dfa"].flatMap { blocks in
            ["ce", "mse", "sl"].map { loss in ("cafo-\(blocks)-\(loss)", "cafo", ["cafo.blocks": blocks, "cafo.loss": loss]) }
        }

    /// The algorithm every rule is compared against (the one declaring the baseline role).
    public static var baseline: any RegisteredAlgorithm.Type { all.first { $0.role == .baseline }! }

    /// What `id` is in a comparison, as stored with each of its runs.
    public static func descriptor(for id: String) throws -> AlgorithmDescriptor {
        let type = try algorithm(id)
        return AlgorithmDescriptor(id: id, family: type.id, role: type.role, baseline: type.role == .baseline ? nil : baseline.id,
                                   control: type.control)
    }

    /// Every comparison the algorithms declare, in registry order.
    public static var declaredComparisons: [DeclaredComparison] { all.flatMap { $0.comparisons } }

    /// The ids `bpfree train --algorithm` accepts.
    public static var ids: [String] { all.map { $0.id } + variants.map(\.id) }

    /// The algorithm registered under `id` (a variant resolves to its base); the error lists the valid ids.
    public static func algorithm(_ id: String) throws -> any RegisteredAlgorithm.Type {
        let base = variants.first { $0.id == id }?.base ?? id
        guard let type = all.first(where: { $0.id == base }) else {
            throw ConfigurationError(field: "--algorithm", problem: "unknown algorithm '\(id)'; valid: \(ids.joined(separator: ", "))")
        }
        return type
    }

    /// The options a variant id fixes, merged with the given ones; setting a fixed one differently is an error.
    public static func options(for id: String, _ options: [String: String]) throws -> [String: String] {
        guard let variant = variants.first(where: { $0.id == id }) else { return options }
        for (key, value) in variant.options where options[key] != nil && options[key] != value {
            throw ConfigurationError(field: "--set", problem: "\(key)=\(options[key]!) contradicts --algorithm \(id), which sets \(key)=\(value)")
        }
        return options.merging(variant.options) { $1 }
    }

    /// The resolved hyperparameters of `id` with these settings (checks them without building anything).
    public static func hyperparameters(for id: String, common: CommonHyperparameters = .init(),
                                       options: [String: String] = [:]) throws -> Hyperparameters {
        let type = try algorithm(id)
        return try Hyperparameters(prefix: type.id, specs: type.hyperparameterSpecs, common: common,
                                   options: try Self.options(for: id, options))
    }

    /// The architecture algorithm `id` uses on `dataset` when none is given (protocol §1).
    public static func defaultArchitecture(for id: String, dataset: String) throws -> Architecture {
        let type = try algorithm(id)
        return dataset.hasPrefix("cifar") ? type.defaultCIFARArchitecture : type.defaultArchitecture
    }

    /// The hyperparameters tuning searches for algorithm `id`, each log-uniform over its range
    /// (protocol §4), in declaration order.
    public static func searchSpace(for id: String, options: [String: String] = [:]) throws -> [(name: String, range: ClosedRange<Double>)] {
        let resolved = try hyperparameters(for: id, options: options)
        return try algorithm(id).hyperparameterSpecs.compactMap { spec in
            if let condition = spec.searchCondition, resolved.values[condition.name] != .text(condition.value) { return nil }
            return spec.searchRange.map { (spec.name, $0) }
        }
    }

    /// A ready-to-train algorithm with what the run record needs to know about it.
    public struct Built {
        public let algorithm: any TrainingAlgorithm
        public let architecture: Architecture
        public let hyperparameters: Hyperparameters
        /// How the finished model predicts (`RegisteredAlgorithm.inferenceRule`).
        public let inferenceRule: String
        /// The training batch size (every algorithm declares `batch_size`).
        public var batchSize: Int { hyperparameters.integer("batch_size") }
    }

    /// Builds algorithm `id` with its hyperparameters resolved from defaults, common flags and
    /// `--set` options; `architecture` nil means the algorithm's default for `dataset`.
    public static func make(id: String, architecture: Architecture?, inputShape: [Int], classCount: Int,
                            common: CommonHyperparameters = .init(), options: [String: String] = [:],
                            seed: UInt64, dataset: String = "") throws -> Built {
        let type = try algorithm(id)
        let hyperparameters = try Self.hyperparameters(for: id, common: common, options: options)
        let architecture = try architecture ?? defaultArchitecture(for: id, dataset: dataset)
        let algorithm = try type.make(architecture: architecture, inputShape: inputShape, classCount: classCount,
                                      hyperparameters: hyperparameters, seed: seed)
        return Built(algorithm: algorithm, architecture: architecture, hyperparameters: hyperparameters,
                     inferenceRule: type.inferenceRule(hyperparameters))
    }
}
