import Records

/// Early stopping (protocol §3): stop after `patience` epochs without an improvement of the
/// monitored value larger than `minDelta`, or at `maxEpochs`.
public struct StoppingRule: Sendable, Equatable, Codable {
    /// What decides improvement and the restored checkpoint.
    public enum Monitor: String, Sendable, Codable {
        /// Lower validation loss is better (the harmonized rule).
        case validationLoss = "val_loss"
        /// Higher validation accuracy is better (the original study's FF).
        case validationAccuracy = "val_accuracy"
        /// No early stopping: exactly `maxEpochs`, keeping the last weights (the original
        /// study's CaFo-DFA block pre-training).
        case none
    }

    public var patience: Int
    public var minDelta: Double
    public var maxEpochs: Int
    public var monitor: Monitor

    /// The harmonized rule: validation loss, patience 20, min_delta 0, cap 100 epochs per unit.
    public static let harmonized = StoppingRule(patience: 20, minDelta: 0, maxEpochs: 100)

    /// A rule with the given settings.
    public init(patience: Int, minDelta: Double, maxEpochs: Int, monitor: Monitor = .validationLoss) {
        self.patience = patience
        self.minDelta = minDelta
        self.maxEpochs = maxEpochs
        self.monitor = monitor
    }
}

/// Which weights a stage keeps when it stops (and the test measures).
public enum Restore: String, Sendable, Codable {
    /// The best epoch of the stopping rule's monitored value (the harmonized protocol: the
    /// lowest validation loss).
    case best
    /// The epoch of the highest validation accuracy, whatever the rule monitors (the original
    /// study's BP: it stopped on validation loss, saved on validation accuracy).
    case bestValidationAccuracy = "best_val_accuracy"
    /// The last epoch's weights, no restore (the original study's MF layers and CaFo predictors).
    case last
}

/// The state of the stopping rule over one stage's epochs.
public struct EarlyStopping: Sendable {
    public let rule: StoppingRule
    /// The lowest validation loss so far.
    public private(set) var bestLoss = Double.infinity
    /// The best monitored value so far (loss or accuracy).
    public private(set) var bestValue = Double.nan
    /// The epoch (1-based) of the best monitored value, 0 before any.
    public private(set) var bestEpoch = 0
    /// Epochs seen.
    public private(set) var epoch = 0

    /// A fresh stopper.
    public init(rule: StoppingRule) { self.rule = rule }

    /// Records one epoch; true when it is a new best (save a checkpoint).
    public mutating func record(validationLoss loss: Double, validationAccuracy accuracy: Double = .nan) -> Bool {
        epoch += 1
        let improved: Bool = switch rule.monitor {
        case .validationLoss: loss < bestLoss - rule.minDelta
        case .validationAccuracy: bestEpoch == 0 || accuracy > bestValue + rule.minDelta
        case .none: true
        }
        guard improved else { return false }
        bestLoss = loss
        bestValue = rule.monitor == .validationAccuracy ? accuracy : loss
        bestEpoch = epoch
        return true
    }

    /// Whether the stage must stop: the cap is reached or `patience` epochs passed without a new best.
    public var shouldStop: Bool {
        epoch >= rule.maxEpochs || epoch - bestEpoch >= rule.patience
    }
}

extension RunRecord.Stopping {
    /// The record of a rule.
    public init(_ rule: StoppingRule) {
        self.init(monitor: rule.monitor.rawValue, patience: rule.patience, minDelta: rule.minDelta, maxEpochs: rule.maxEpochs)
    }
}
