/// One epoch of one stage, as the trainer reports it and every record keeps it.
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

    enum CodingKeys: String, CodingKey {
        case stage, epoch, trainLoss = "train_loss", validationLoss = "val_loss", validationAccuracy = "val_accuracy", seconds
        case validationSeconds = "val_seconds"
    }

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
    /// The stopping rule the stage ran under (absent in records of earlier builds).
    public var stopping: RunRecord.Stopping?
    /// Which weights it kept: `best` (the rule's best epoch), `best_val_accuracy` or `last`.
    public var restore: String?
    /// The epoch whose weights it kept (1-based; 0: none).
    public var restoredEpoch: Int?

    enum CodingKeys: String, CodingKey {
        case name, epochs, bestEpoch = "best_epoch", bestValidationLoss = "best_val_loss", note, stopping, restore
        case restoredEpoch = "restored_epoch"
    }

    public init(name: String, epochs: Int, bestEpoch: Int, bestValidationLoss: Double?, note: String? = nil,
                stopping: RunRecord.Stopping? = nil, restore: String? = nil, restoredEpoch: Int? = nil) {
        self.name = name
        self.epochs = epochs
        self.bestEpoch = bestEpoch
        self.bestValidationLoss = bestValidationLoss
        self.note = note
        self.stopping = stopping
        self.restore = restore
        self.restoredEpoch = restoredEpoch
    }
}
