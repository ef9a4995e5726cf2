import Training

/// What the original study's code did for one algorithm on one dataset and architecture
/// (protocol `seed-paper`, to reproduce its numbers, never to compare fairly): its stopping
/// rules, which weights it tested, and its tuned hyperparameters. Each algorithm declares its
/// own, in its own file (`seedPaper(dataset:architecture:options:cap:)`).
public struct SeedPaper: Sendable {
    /// The rule of every stage without one of its own.
    public var stopping: StoppingRule
    /// Rules of their own for stages, by stage-name prefix.
    public var stages: [String: StoppingRule] = [:]
    /// Which weights every stage keeps.
    public var restore: Restore
    /// Restore rules of their own for stages, by stage-name prefix.
    public var stageRestore: [String: Restore] = [:]
    /// The study's tuned values for this configuration, as `--set` options (`prefix.key`):
    /// they replace bpfree's defaults, never a value the user gave.
    public var defaults: [String: String] = [:]

    public init(stopping: StoppingRule, stages: [String: StoppingRule] = [:], restore: Restore,
                stageRestore: [String: Restore] = [:], defaults: [String: String] = [:]) {
        self.stopping = stopping
        self.stages = stages
        self.restore = restore
        self.stageRestore = stageRestore
        self.defaults = defaults
    }

    /// The harmonized protocol: `base` for every stage, restoring its best epoch.
    public static func harmonized(_ base: StoppingRule) -> SeedPaper { SeedPaper(stopping: base, restore: .best) }

    /// The datasets the study ran, by its names.
    public static let studyDatasets: Set = ["mnist", "fmnist", "cifar10", "cifar100"]

    /// The study's dataset names in its configs: `mnist`, `fmnist`, `cifar10`, `cifar100`.
    public static func studyDataset(_ dataset: String) -> String { dataset.hasPrefix("fashion") ? "fmnist" : dataset }
}

extension RegisteredAlgorithm {
    /// An algorithm the study did not run keeps the harmonized rules under seed-paper too.
    public static func seedPaper(dataset: String, architecture: Architecture, options: [String: String], cap: Int) -> SeedPaper? { nil }
}

extension AlgorithmRegistry {
    /// What the study did for `id` (a variant's options included), or nil when it did not run it.
    /// Throws for a dataset the study did not use: there is nothing to reproduce.
    public static func seedPaper(for id: String, dataset: String, architecture: Architecture, options: [String: String],
                                 cap: Int) throws -> SeedPaper? {
        let studyDataset = SeedPaper.studyDataset(dataset)
        guard SeedPaper.studyDatasets.contains(studyDataset) else {
            throw ConfigurationError(field: "--protocol", problem: "seed-paper reproduces the study's runs on mnist, fashion-mnist, "
                                     + "cifar10 and cifar100; it did not run \(dataset)")
        }
        let resolved = try Self.options(for: id, options)
        return try algorithm(id).seedPaper(dataset: studyDataset, architecture: architecture, options: resolved, cap: cap)
    }
}
