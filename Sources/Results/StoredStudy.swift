import Tuning

/// One tuning study as the store keeps it: what every trial of it shares.
public struct StoredStudy: Sendable, Equatable {
    /// The row id once stored.
    public var id: Int64?
    /// Unique across the store.
    public var name: String
    public var algorithm: String
    public var dataset: String
    public var architecture: String
    /// `tpe` or `random`.
    public var sampler: String
    /// Derived from the study name and the base seed (protocol §4).
    public var samplerSeed: Int64
    /// `none` or `median`.
    public var pruner: String
    /// Trials to finish (failed trials that were retried do not count).
    public var trialBudget: Int
    /// The epoch cap of every trial's run.
    public var epochsPerTrial: Int
    /// Everything else that determines a trial's run, as JSON (the composition layer's settings).
    public var settingsJSON: String
    public var createdAt: String
    /// What the study optimises, in Optuna's objective order (`study_directions`, `study:metric_names`).
    public var objectives: [StudyObjective] = [.validationAccuracy]

    public init(name: String, algorithm: String, dataset: String, architecture: String, sampler: String, samplerSeed: Int64,
                pruner: String, trialBudget: Int, epochsPerTrial: Int, settingsJSON: String, createdAt: String) {
        self.name = name
        self.algorithm = algorithm
        self.dataset = dataset
        self.architecture = architecture
        self.sampler = sampler
        self.samplerSeed = samplerSeed
        self.pruner = pruner
        self.trialBudget = trialBudget
        self.epochsPerTrial = epochsPerTrial
        self.settingsJSON = settingsJSON
        self.createdAt = createdAt
    }
}

/// What a worker gets when it asks for work.
public enum TrialClaim: Sendable, Equatable {
    /// A trial now running under this worker, its parameters set.
    case trial(FrozenTrial)
    /// Nothing to claim now, but other workers' trials are running (one may go stale).
    case wait
    /// The budget is used up and nothing runs: the study is finished.
    case done
}
