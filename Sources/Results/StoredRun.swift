/// One training run as the store keeps it: the fields runs are queried by, the per-epoch and
/// per-stage rows, the resource trace, and the full run record as JSON.
public struct StoredRun: Sendable, Equatable {
    /// One epoch of one stage (also the run record's JSON form, snake_case keys).
    public struct Epoch: Sendable, Equatable, Codable {
        public var stage: String
        public var epoch: Int
        public var trainLoss: Double
        public var valLoss: Double
        public var valAccuracy: Double
        public var seconds: Double
        /// The validation pass's part of `seconds`.
        public var valSeconds: Double

        enum CodingKeys: String, CodingKey {
            case stage, epoch, trainLoss = "train_loss", valLoss = "val_loss", valAccuracy = "val_accuracy", seconds
            case valSeconds = "val_seconds"
        }

        public init(stage: String, epoch: Int, trainLoss: Double, valLoss: Double, valAccuracy: Double,
                    seconds: Double, valSeconds: Double) {
            self.stage = stage
            self.epoch = epoch
            self.trainLoss = trainLoss
            self.valLoss = valLoss
            self.valAccuracy = valAccuracy
            self.seconds = seconds
            self.valSeconds = valSeconds
        }
    }

    /// How one stage ended (also the run record's JSON form).
    public struct Stage: Sendable, Equatable, Codable {
        public var name: String
        public var epochs: Int
        public var bestEpoch: Int
        public var bestValLoss: Double?
        /// How the stage was fitted, when the algorithm says (kept in the record's JSON).
        public var note: String?

        enum CodingKeys: String, CodingKey {
            case name, epochs, bestEpoch = "best_epoch", bestValLoss = "best_val_loss", note
        }

        public init(name: String, epochs: Int, bestEpoch: Int, bestValLoss: Double?, note: String? = nil) {
            self.name = name
            self.epochs = epochs
            self.bestEpoch = bestEpoch
            self.bestValLoss = bestValLoss
            self.note = note
        }
    }

    /// The row id once stored.
    public var id: Int64?
    public var startedAt: String
    public var algorithm: String
    public var dataset: String
    public var architecture: String
    public var seed: Int64
    public var status: String
    public var failureReason: String?
    public var testAccuracy: Double?
    public var effectiveEpochs: Int
    public var trainSeconds: Double
    public var samplesPerSecond: Double
    public var trainFlops: Int64
    public var energyJoules: Double?
    public var energySource: String?
    public var co2eGrams: Double?
    public var peakRSSBytes: Int64
    public var threads: Int
    /// The hyperparameters as a JSON object.
    public var hyperparametersJSON: String
    /// The complete run record as JSON.
    public var recordJSON: String
    /// Why the run exists: `train` (a single `bpfree train`), `trial` (a tuning trial) or
    /// `final` (a benchmark's retraining of the best hyperparameters).
    public var role: String
    /// The study the run belongs to (trials and final runs).
    public var study: String?
    /// The trial's number within its study (trials only).
    public var trialNumber: Int?
    /// The benchmark comparison the run belongs to (final runs).
    public var comparison: String?
    public var epochs: [Epoch]
    public var stages: [Stage]
    /// Trace column names, in order, and one row of values (nil: not available) per sample.
    public var traceColumns: [String]
    public var traceRows: [[Double?]]

    public init(startedAt: String, algorithm: String, dataset: String, architecture: String, seed: Int64, status: String,
                failureReason: String?, testAccuracy: Double?, effectiveEpochs: Int, trainSeconds: Double,
                samplesPerSecond: Double, trainFlops: Int64, energyJoules: Double?, energySource: String?,
                co2eGrams: Double?, peakRSSBytes: Int64, threads: Int, hyperparametersJSON: String, recordJSON: String,
                role: String = "train", study: String? = nil, trialNumber: Int? = nil, comparison: String? = nil, epochs: [Epoch], stages: [Stage], traceColumns: [String] = [], traceRows: [[Double?]] = []) {
        self.startedAt = startedAt
        self.algorithm = algorithm
        self.dataset = dataset
        self.architecture = architecture
        self.seed = seed
        self.status = status
        self.failureReason = failureReason
        self.testAccuracy = testAccuracy
        self.effectiveEpochs = effectiveEpochs
        self.trainSeconds = trainSeconds
        self.samplesPerSecond = samplesPerSecond
        self.trainFlops = trainFlops
        self.energyJoules = energyJoules
        self.energySource = energySource
        self.co2eGrams = co2eGrams
        self.peakRSSBytes = peakRSSBytes
        self.threads = threads
        self.hyperparametersJSON = hyperparametersJSON
        self.recordJSON = recordJSON
        self.role = role
        self.study = study
        self.trialNumber = trialNumber
        self.comparison = comparison
        self.epochs = epochs
        self.stages = stages
        self.traceColumns = traceColumns
        self.traceRows = traceRows
    }
}
