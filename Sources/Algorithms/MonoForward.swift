import Datasets
import Foundation
import NeuralNetwork
import TensorCore
import Training

/// Mono-Forward: every hidden layer learns from its own projection `G_i = a_i·M_iᵀ` and a local
/// softmax cross-entropy; no gradient crosses layers.
/// - Paper: Gong, Li & Abdulla, "Mono-Forward: Backpropagation-Free Algorithm for Efficient
///   Neural Network Training Harnessing Local Errors", arXiv 2501.09238, 2025.
public final class MonoForward: RegisteredAlgorithm {
    /// How the layers are scheduled.
    public enum Schedule: String, Sendable {
        /// One stage per layer, each trained to its own stop and then frozen.
        case sequential
        /// One stage; every layer is updated on every minibatch from detached inputs.
        case concurrent
    }

    /// How the finished network predicts.
    public enum Inference: String, Sendable {
        /// `argmax G_L` of the last layer.
        case last
        /// `argmax Σ_i G_i` over all layers.
        case sum
    }

    /// Whether M0, a projection of the raw input, is trained too.
    public enum InputProjectionRule: String, Sendable {
        case none
        /// First, as its own stage (the study's code); never used to predict.
        case trained
    }

    public static let id = "mf"

    public static func inferenceRule(_ h: Hyperparameters) -> String {
        h.choice("inference", as: Inference.self) == .last
            ? "argmax of the last unit's class scores G = a·Mᵀ (its projection), a its activities"
            : "argmax of Σ over units of G_i = a_i·M_iᵀ (each unit's projection)"
    }
    /// The study's MLP comparisons, and MF against BP on the CNN (bpfree's addition: the study's open question).
    public static let comparisons = [
        DeclaredComparison("mf", on: "mlp-2x1000", datasets: ["mnist", "fashion-mnist"], quick: .init()),
        DeclaredComparison("mf", on: "mlp-3x2000", datasets: ["cifar10", "cifar100"]),
        DeclaredComparison("mf", on: "cnn-3block", datasets: ["mnist", "fashion-mnist", "cifar10", "cifar100"]),
    ]
    /// Defaults: the study's Optuna-tuned Fashion-MNIST 2x1000 configuration (Adam, no decay).
    public static let hyperparameterSpecs: [HyperparameterSpec] = [
        .real("learning_rate", 3.873e-4, "Adam learning rate of every layer").searched(logUniformIn: 1e-5...1e-2),
        .real("weight_decay", 0, "Adam L2 weight decay"),
        .integer("batch_size", 128, "training batch size"),
        .choice("schedule", "sequential", of: ["sequential", "concurrent"], "layer by layer (one stage each) or all layers every batch"),
        .choice("inference", "last", of: ["last", "sum"], "predict from the last layer's G or the sum of all layers' G"),
        .choice("input_projection", "none", of: ["none", "trained"],
                "also train M0, a projection of the raw input, first (the study's code does; it never predicts, its cost counts)"),
    ]

    /// The study's MF (`src/algorithms/mf.py`, `configs/mf`): Adam at its tuned rate, each layer
    /// capped at `epochs_per_layer` and stopped on its local validation loss (min_delta 1e-4,
    /// its patience per dataset), keeping each layer's *last* weights (no restore), after
    /// training M0 on the input the same way.
    public static func seedPaper(dataset: String, architecture: Architecture, options: [String: String], cap: Int) -> SeedPaper? {
        let tuned: [String: (epochsPerLayer: Int, patience: Int, learningRate: Double)] = [
            "mnist": (14, 5, 1.570297088405539e-3), "fmnist": (12, 10, 3.873086262136253e-4),
            "cifar10": (15, 4, 3.241756767272183e-4), "cifar100": (8, 4, 1.7277890583771544e-4),
        ]
        guard case .mlp = architecture, let configuration = tuned[dataset] else { return nil }  // it ran MF on MLPs only
        return SeedPaper(stopping: StoppingRule(patience: configuration.patience, minDelta: 1e-4, maxEpochs: min(cap, configuration.epochsPerLayer)),
                         restore: .last,
                         defaults: ["mf.learning_rate": "\(configuration.learningRate)", "mf.weight_decay": "0", "mf.input_projection": "trained"])
    }
    public static let defaultArchitecture = Architecture.mlp(hiddenWidths: [1000, 1000])
    public static let defaultCIFARArchitecture = Architecture.mlp(hiddenWidths: [2000, 2000, 2000])

    /// One unit with its projection and optimizer: a hidden layer (Linear → ReLU) of an MLP, or a
    /// block (Conv → ReLU → MaxPool → BatchNorm) of a CNN, whose flattened output M projects.
    final class Unit {
        let body: Sequential
        let projection: Linear
        let optimizer: Adam
        let parameters: [Parameter]

        init(body: Sequential, projection: Linear, learningRate: Float, weightDecay: Float) {
            self.body = body
            self.projection = projection
            optimizer = Adam(learningRate: learningRate, weightDecay: weightDecay)
            parameters = body.parameters + projection.parameters
        }

        /// `a = ReLU(x·Wᵀ + b)` (N×in → N×h), or the block's maps (N×H×W×C).
        var state: [StateTensor] { body.state + projection.state }

        func activations(_ x: Tensor, mode: Mode) -> Tensor { body.forward(x, mode: mode) }

        /// `a` as rows of features (a block's maps flattened, channels last).
        func features(_ a: Tensor) -> Tensor { a.shape.count == 2 ? a : a.reshaped([a.shape[0], projection.inputSize]) }

        /// `G = a·Mᵀ`. Shapes: N×classes.
        func scores(_ a: Tensor) -> Tensor { projection.forward(features(a), mode: .inference) }

        /// One local step on `x` (a constant): adds the local loss to `total` and returns the
        /// pre-update activations.
        func trainStep(_ x: Tensor, batch: Batch, loss: SoftmaxCrossEntropy, total: LossSum) -> Tensor {
            let a = accumulateGradients(x, batch: batch, loss: loss, total: total)
            optimizer.step(parameters)
            return a
        }

        /// The local loss on `x` (added to `total`) with its gradients accumulated into the unit's
        /// weights and M; returns the activations.
        func accumulateGradients(_ x: Tensor, batch: Batch, loss: SoftmaxCrossEntropy, total: LossSum) -> Tensor {
            let a = activations(x, mode: .training)
            loss.lossAndGradient(logits: projection.forward(features(a), mode: .training), of: batch, addingMeanTo: total)
            // dM += ΔGᵀ·a; da = ΔG·M; then back through the unit's own layers — and nothing flows into x.
            let da = projection.backward(loss.gradient, inputGradient: .needed)!
            _ = body.backward(a.shape.count == 2 ? da : da.reshaped(a.shape), inputGradient: .notNeeded)
            return a
        }
    }

    /// M0: the input's own projection to the classes, trained by its local cross-entropy.
    final class InputProjection {
        let projection: Linear
        let optimizer: Adam

        init(projection: Linear, learningRate: Float, weightDecay: Float) {
            self.projection = projection
            optimizer = Adam(learningRate: learningRate, weightDecay: weightDecay)
        }

        func trainStep(_ x: Tensor, batch: Batch, loss: SoftmaxCrossEntropy, total: LossSum) {
            loss.lossAndGradient(logits: projection.forward(x, mode: .training), of: batch, addingMeanTo: total)
            _ = projection.backward(loss.gradient, inputGradient: .notNeeded)
            optimizer.step(projection.parameters)
        }
    }

    let units: [Unit]
    let inputProjection: InputProjection?
    let schedule: Schedule
    let inference: Inference
    private let loss = SoftmaxCrossEntropy()
    /// Where the local losses that the run does not report go (every unit but the last, concurrently).
    private let unreportedLoss = LossSum()
    private var scoreSum = Tensor(zeros: [0])

    /// `layer` or `block`: the stages' names are this and the unit's number.
    let unitName: String

    init(units: [Unit], inputProjection: InputProjection? = nil, schedule: Schedule, inference: Inference, unitName: String = "layer") {
        self.units = units
        self.unitName = unitName
        self.inputProjection = inputProjection
        self.schedule = schedule
        self.inference = inference
    }

    /// Stages before the first layer's: M0's when it is trained on its own.
    private var layerStageOffset: Int { inputProjection != nil && schedule == .sequential ? 1 : 0 }

    /// Initialisation of the study's code: `W ~ U(±√(6/fan_in))`, `b = 0`, `M ~ U(±1/√h)`; a
    /// CNN's blocks are those of `cnn-3block` (BatchNorm ε 1e-5, γ and β trained by the block's
    /// local loss) with Kaiming-uniform convolutions.
    public static func make(architecture: Architecture, inputShape: [Int], classCount: Int,
                            hyperparameters h: Hyperparameters, seed: UInt64) throws -> MonoForward {
        let inputSize = inputShape.reduce(1, *)
        var generator = SeededGenerator(seed: seed, stream: "weights")
        var units: [Unit] = []
        let unitName = Self.unitName(architecture)
        func unit(_ body: Sequential, _ size: Int, _ index: Int) -> Unit {
            let projection = Linear(inputSize: size, outputSize: classCount, bias: false, name: "\(unitName)\(index + 1).projection", using: &generator)
            return Unit(body: body, projection: projection, learningRate: Float(h.real("learning_rate")), weightDecay: Float(h.real("weight_decay")))
        }
        switch architecture {
        case .mlp(let widths):
            var fanIn = inputSize
            for (index, width) in widths.enumerated() {
                let linear = Linear(inputSize: fanIn, outputSize: width, initialisation: .kaimingReLU, name: "\(unitName)\(index + 1)", using: &generator)
                units.append(unit(Sequential([linear, ReLU()]), width, index))
                fanIn = width
            }
        case .cnn:
            let (blocks, sizes) = try architecture.makeBlocks(inputShape: inputShape, convolutionInit: .kaimingReLU, using: &generator)
            let maps = architecture.featureMaps(inputShape: inputShape)
            for (index, block) in blocks.enumerated() {
                units.append(unit(block, sizes[index], index))
                units[index].projection.inputMap = maps[index]
            }
        }
        let inputProjection: InputProjection? = h.choice("input_projection", as: InputProjectionRule.self) == .trained
            ? InputProjection(projection: Linear(inputSize: inputSize, outputSize: classCount, bias: false, name: "input.projection", using: &generator),
                              learningRate: Float(h.real("learning_rate")), weightDecay: Float(h.real("weight_decay")))
            : nil
        return MonoForward(units: units, inputProjection: inputProjection, schedule: h.choice("schedule"), inference: h.choice("inference"),
                           unitName: unitName)
    }

    /// What a unit is called: an MLP's `layer`, a CNN's `block`.
    static func unitName(_ architecture: Architecture) -> String {
        if case .cnn = architecture { return "block" }
        return "layer"
    }

    public var stages: [Stage] {
        switch schedule {
        case .sequential: (inputProjection == nil ? [] : [Stage(name: "input")]) + units.indices.map { Stage(name: "\(unitName)\($0 + 1)") }
        case .concurrent: [Stage(name: "layers")]
        }
    }

    public func parameters(of stage: Int) -> [Parameter] {
        let m0 = inputProjection?.projection.parameters ?? []
        guard schedule == .sequential else { return m0 + units.flatMap(\.parameters) }
        return stage < layerStageOffset ? m0 : units[stage - layerStageOffset].parameters
    }

    /// As the parameters, with each block's batch-norm statistics.
    public func state(of stage: Int) -> [StateTensor] {
        let m0 = inputProjection?.projection.state ?? []
        guard schedule == .sequential else { return m0 + units.flatMap(\.state) }
        return stage < layerStageOffset ? m0 : units[stage - layerStageOffset].state
    }

    public func trainBatch(_ batch: Batch, stage: Int, loss total: LossSum) {
        var x = batch.inputs
        switch schedule {
        case .sequential:
            if stage < layerStageOffset { return inputProjection!.trainStep(x, batch: batch, loss: loss, total: total) }
            let layer = stage - layerStageOffset
            // Frozen layers below the stage only feed it.
            for unit in units[..<layer] { x = unit.activations(x, mode: .inference) }
            _ = units[layer].trainStep(x, batch: batch, loss: loss, total: total)
        case .concurrent:
            // NOTE: the reported training loss is the last layer's local loss; validation monitors
            // the inference rule's cross-entropy (the same quantity with `inference=last`).
            inputProjection?.trainStep(x, batch: batch, loss: loss, total: unreportedLoss)
            for (index, unit) in units.enumerated() {
                x = unit.trainStep(x, batch: batch, loss: loss, total: index == units.count - 1 ? total : unreportedLoss)
            }
        }
    }

    public func validate(_ batch: Batch, stage: Int, into sums: EvaluationSums) {
        guard schedule == .sequential else { return predictionSums(batch, into: sums) }
        var x = batch.inputs
        let logits: Tensor
        if stage < layerStageOffset {
            logits = inputProjection!.projection.forward(x, mode: .inference)
        } else {
            let layer = stage - layerStageOffset
            for unit in units[...layer] { x = unit.activations(x, mode: .inference) }
            logits = units[layer].scores(x)
        }
        SoftmaxCrossEntropy.evaluate(logits: logits, of: batch, into: sums)
    }

    public func countCorrect(_ batch: Batch) -> Int {
        let sums = EvaluationSums()
        predictionSums(batch, into: sums)
        return sums.value.correct
    }

    /// Cross-entropy and correct count of the inference rule's scores (last G or Σ G).
    func predictionSums(_ batch: Batch, into sums: EvaluationSums) {
        var x = batch.inputs
        var scores = Tensor(zeros: [0])
        for (index, unit) in units.enumerated() {
            x = unit.activations(x, mode: .inference)
            if inference == .sum || index == units.count - 1 {
                let g = unit.scores(x)
                if inference == .last { scores = g; break }
                if index == 0 { scoreSum.assign(g) } else { scoreSum.add(g) }
                scores = scoreSum
            }
        }
        SoftmaxCrossEntropy.evaluate(logits: scores, of: batch, into: sums)
    }
}
