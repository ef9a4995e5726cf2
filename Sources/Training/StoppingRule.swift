/// Early stopping on validation loss (protocol §3): stop after `patience` epochs without an
/// improvement larger than `minDelta`, or at `maxEpochs`.
public struct StoppingRule: Sendable, Equatable, Codable {
    public var patience: Int
    public var minDelta: Double
    public var maxEpochs: Int

    /// The harmonized rule: patience 20, min_delta 0, cap 100 epochs per unit.
    public static let harmonized = StoppingRule(patience: 20, minDelta: 0, maxEpochs: 100)

    /// A rule with the given settings.
    public init(patience: Int, minDelta: Double, maxEpochs: Int) {
        self.patience = patience
        self.minDelta = minDelta
        self.maxEpochs = maxEpochs
    }
}

/// The state of the stopping rule over one stage's epochs.
public struct EarlyStopping: Sendable {
    public let rule: StoppingRule
    /// The lowest validation loss so far.
    public private(set) var bestLoss = Double.infinity
    /// The epoch (1-based) of `bestLoss`, 0 before any.
    public private(set) var bestEpoch = 0
    /// Epochs seen.
    public private(set) var epoch = 0

    /// A fresh stopper.
    public init(rule: StoppingRule) { self.rule = rule }

    /// Records one epoch's validation loss; true when it is a new best (save a checkpoint).
    public mutating func record(validationLoss loss: Double) -> Bool {
        epoch += 1
        guard loss < bestLoss - rule.minDelta else { return false }
        bestLoss = loss
        bestEpoch = epoch
        return true
    }

    /// Whether the stage must stop: the cap is reached or `patience` epochs passed without a new best.
    public var shouldStop: Bool {
        epoch >= rule.maxEpochs || epoch - bestEpoch >= rule.patience
    }
}
