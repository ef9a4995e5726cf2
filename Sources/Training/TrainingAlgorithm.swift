import Datasets
import NeuralNetwork
import TensorCore

/// A unit of the stopping rule: trained until its own early stop, then its best checkpoint is
/// restored (the whole model for BP; one layer for sequential MF; one predictor for CaFo).
public struct Stage: Sendable, Equatable {
    /// A short name shown in progress lines and the run record, e.g. "model" or "layer2".
    public let name: String
    /// An epoch cap of the stage's own, below the stopping rule's (1 for a closed-form fit).
    public let epochLimit: Int?

    /// A stage called `name`.
    public init(name: String, epochLimit: Int? = nil) {
        self.name = name
        self.epochLimit = epochLimit
    }
}

/// Summed loss and correct predictions over the batches of an evaluation pass, kept where they
/// are computed as `LossSum`s are: on a device each batch adds to them there, and the pass reads
/// them once at its end.
public final class EvaluationSums {
    public let loss = LossSum()
    /// The correct predictions, counted as a double (exact up to 2⁵³).
    public let correct = LossSum()

    /// Sums at zero.
    public init() {}

    /// Adds a batch's sums computed on the host.
    public func add(lossSum: Double, correct: Int) {
        loss.add(lossSum)
        self.correct.add(Double(correct))
    }

    /// The sums so far (waits for a device's queued work).
    public var value: (lossSum: Double, correct: Int) { (loss.value, Int(correct.value)) }
}

/// A learning rule as a strategy of the one `Trainer`: it declares its stages, trains one batch
/// of a stage, and evaluates. It owns no loop, no stopping rule and no measurement.
public protocol TrainingAlgorithm: AnyObject {
    /// The stages, trained in order.
    var stages: [Stage] { get }
    /// The parameters a stage trains.
    func parameters(of stage: Int) -> [Parameter]
    /// What a stage's checkpoint saves and restores: its parameters and the state its training
    /// changes besides them (batch-norm running statistics). Default: the parameters.
    func state(of stage: Int) -> [StateTensor]
    /// Everything the finished model's inference reads, each name once: every stage's state and
    /// what no stage trains (frozen random layers). A saved model holds exactly these.
    /// Default: every stage's state.
    var modelState: [StateTensor] { get }
    /// Trains one batch of `stage` and adds its mean training loss to `loss`, where it was
    /// computed: on a device the sum stays there and the trainer reads it once an epoch.
    func trainBatch(_ batch: Batch, stage: Int, loss: LossSum)
    /// Adds the stage's monitored loss (summed) and correct count on a batch, in inference mode,
    /// to `sums`, where they are computed.
    func validate(_ batch: Batch, stage: Int, into sums: EvaluationSums)
    /// Correct predictions of the finished model on a batch (the test metric).
    func countCorrect(_ batch: Batch) -> Int
    /// Called before each training epoch of a stage (1-based), e.g. for learning-rate schedules.
    func epochWillStart(_ epoch: Int, maxEpochs: Int, stage: Int)
    /// Called after each epoch's training batches, before its validation (e.g. to apply a
    /// full-batch step accumulated over the epoch).
    func epochDidEnd(_ epoch: Int, stage: Int)
    /// Called when a stage starts (inside the measurement window): the training and validation
    /// data the stage trains and validates on, or nil to use the run's own. An algorithm with
    /// frozen layers returns their cached outputs here (CaFo's block features).
    func stageData(_ stage: Int, from data: DataSplits) -> (train: Dataset, validation: Dataset)?
    /// A line for the run record on how a finished stage was fitted, or nil.
    func stageNote(_ stage: Int) -> String?
    /// Moves every tensor the algorithm keeps to `backend`'s device (the host when nil), before
    /// training or after it. Default: every stage's parameters with their gradients, and the
    /// model's state (batch-norm statistics, frozen layers).
    func move(to backend: (any DeviceBackend)?)
}

extension TrainingAlgorithm {
    /// One batch trained on its own (tests, one-off steps): its mean training loss, read back at once.
    @discardableResult
    public func trainBatch(_ batch: Batch, stage: Int) -> Float {
        let loss = LossSum()
        trainBatch(batch, stage: stage, loss: loss)
        return Float(loss.value)
    }

    /// One batch validated on its own (tests, one-off checks): its sums, read back at once.
    public func validate(_ batch: Batch, stage: Int) -> (lossSum: Double, correct: Int) {
        let sums = EvaluationSums()
        validate(batch, stage: stage, into: sums)
        return sums.value
    }

    public func state(of stage: Int) -> [StateTensor] { parameters(of: stage).map { StateTensor($0) } }
    public var modelState: [StateTensor] { stages.indices.flatMap { state(of: $0) } }
    public func epochWillStart(_ epoch: Int, maxEpochs: Int, stage: Int) {}
    public func epochDidEnd(_ epoch: Int, stage: Int) {}
    public func stageData(_ stage: Int, from data: DataSplits) -> (train: Dataset, validation: Dataset)? { nil }
    public func stageNote(_ stage: Int) -> String? { nil }
    public func move(to backend: (any DeviceBackend)?) { moveParametersAndState(to: backend) }

    /// The default `move`: every stage's parameters with their gradients, then the model's state.
    /// An algorithm that keeps fixed tensors of its own (feedback matrices, running means) calls
    /// it from its `move` and moves those.
    public func moveParametersAndState(to backend: (any DeviceBackend)?) {
        for stage in stages.indices { parameters(of: stage).forEach { $0.move(to: backend) } }
        for state in modelState { state.value = state.value.moved(to: backend) }
    }
}
