/// One epoch of one stage.
public struct EpochRecord: Sendable, Codable, Equatable {
    public var stage: String
    /// 1-based within its stage.
    public var epoch: Int
    public var trainLoss: Double
    public var validationLoss: Double
    public var validationAccuracy: Double
    /// Wall-clock seconds of the epoch (training and validation).
    public var seconds: Double
    /// The part of `seconds` spent in the validation pass.
    public var validationSeconds: Double

    public init(stage: String, epoch: Int, trainLoss: Double, validationLoss: Double,
                validationAccuracy: Double, seconds: Double, validationSeconds: Double) {
        self.stage = stage
        self.epoch = epoch
        self.trainLoss = trainLoss
        self.validationLoss = validationLoss
        self.validationAccuracy = validationAccuracy
        self.seconds = seconds
        self.validationSeconds = validationSeconds
    }
}

/// How one stage ended.
public struct StageRecord: Sendable, Codable, Equatable {
    public var name: String
    public var epochs: Int
    /// 1-based; 0 when no epoch improved on infinity.
    public var bestEpoch: Int
    public var bestValidationLoss: Double?
    /// How the algorithm fitted the stage, when it says (e.g. a closed form's method).
    public var note: String?
}

/// Whether a run finished.
public enum RunStatus: Sendable, Equatable {
    case completed
    /// Stopped early for the given reason (e.g. a non-finite loss).
    case failed(reason: String)
    /// Stopped by an observer's request (a tuner pruning the trial); not tested.
    case pruned(reason: String)
}

/// Counters read over the measurement window (protocol §5).
public struct WindowMeasurements: Sendable, Equatable {
    /// Wall-clock seconds from the first training batch to the stop.
    public var seconds: Double = 0
    /// Training samples processed (every stage).
    public var trainSamples = 0
    /// Floating-point operations of every GEMM executed in the window.
    public var flops = 0
    /// Peak resident set size of the process over the window (the kernel's high-water mark).
    public var peakRSSBytes = 0
    /// Whether the high-water mark was reset at the window start; if not, `peakRSSBytes`
    /// covers the whole process so far.
    public var peakRSSWasReset = false
    /// Peak bytes of live tensors over the window.
    public var peakTensorBytes = 0
}

/// Everything the trainer learned about one run.
public struct TrainingResult: Sendable {
    public var epochs: [EpochRecord] = []
    public var stages: [StageRecord] = []
    public var status: RunStatus = .completed
    public var window = WindowMeasurements()
    /// Test accuracy (0–1) of the restored best checkpoint; nil when the run failed.
    public var testAccuracy: Double?
    /// GEMM FLOPs per test sample of the inference pass, from the counter.
    public var forwardFLOPsPerSample: Double?

    /// Epochs run, summed over stages (patience epochs included).
    public var effectiveEpochs: Int { stages.reduce(0) { $0 + $1.epochs } }
    /// The best epoch of the last stage.
    public var bestEpoch: Int { stages.last?.bestEpoch ?? 0 }
}
