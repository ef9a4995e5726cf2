import Datasets
import NeuralNetwork
import Records
import TensorCore
import Training

/// Sign symmetry: BP's chain through feedback matrices that share the forward weights' signs but
/// not their magnitudes, rebuilt from the current weights before every backward pass
/// (`sign(0) = 0`):
///
///     usf:  B_ℓ = s·sign(W_ℓ)           s = √(2/(d_in+d_out)) (Xavier's std) or 1/√d_in (`sign.scale=fanin`)
///     brsf: B_ℓ = |R|·sign(W_ℓ)         R ~ Xavier-uniform, drawn anew every batch
///     frsf: B_ℓ = |R₀|·sign(W_ℓ)        R₀ ~ Xavier-uniform, drawn once
///
/// The output layer keeps its exact gradient. Unscaled signs (s = 1) would make the signal
/// about √d times too large, so the scale is never 1.
/// - Paper: Liao, Leibo & Poggio, "How important is weight symmetry in backpropagation?", AAAI 2016
///   (variants as in Sanfiz & Akrout's biotorch, arXiv 2108.13446).
public final class SignSymmetry: RegisteredAlgorithm {
    /// Where the feedback magnitudes come from.
    public enum Variant: String, Sendable {
        case usf, brsf, frsf
    }

    /// The uSF scale.
    public enum Scale: String, Sendable {
        case xavier, fanin
    }

    /// The weights' optimizer.
    public enum OptimizerKind: String, Sendable {
        case adam, sgd
    }

    public static let id = "sign"
    public static let control: String? = ShallowControl.id
    public static let comparisons = [DeclaredComparison("sign", on: "mlp-2x1000", datasets: ["mnist", "fashion-mnist"], quick: .init())]
    public static let hyperparameterSpecs: [HyperparameterSpec] = [
        .real("learning_rate", 2e-4, "learning rate (AdamW, or SGD with momentum 0.9)").searched(logUniformIn: 1e-5...1e-1),
        .real("weight_decay", 3e-5, "weight decay (AdamW decoupled, SGD L2)").searched(logUniformIn: 1e-6...1e-3),
        .integer("batch_size", 128, "training batch size"),
        .choice("variant", "usf", of: ["usf", "brsf", "frsf"],
                "feedback magnitudes: uniform (s·sign W), random per batch, or random fixed"),
        .choice("scale", "xavier", of: ["xavier", "fanin"], "uSF's s: √(2/(in+out)) or 1/√in"),
        .choice("optimizer", "adam", of: ["adam", "sgd"], "AdamW, or SGD with momentum 0.9"),
    ]
    public static let defaultArchitecture = Architecture.mlp(hiddenWidths: [1000, 1000])
    public static let defaultCIFARArchitecture = Architecture.mlp(hiddenWidths: [2000, 2000, 2000])

    let model: FeedbackNetwork
    let variant: Variant
    /// uSF's scale per dense layer.
    private let scales: [Float]
    /// brSF's and frSF's magnitudes R per dense layer (empty for uSF).
    private var magnitudes: [Tensor]
    /// B_ℓ, rebuilt before every backward pass.
    private(set) var feedback: [Tensor]
    private var generator: SeededGenerator
    private let step: ([Parameter]) -> Void

    init(model: FeedbackNetwork, hyperparameters h: Hyperparameters, seed: UInt64) {
        self.model = model
        variant = h.choice("variant")
        let scale: Scale = h.choice("scale")
        scales = model.linears.map { scale == .xavier ? (2 / Float($0.inputSize + $0.outputSize)).squareRoot() : 1 / Float($0.inputSize).squareRoot() }
        generator = SeededGenerator(seed: seed, stream: "feedback")
        magnitudes = variant == .usf ? [] : model.linears.map { Tensor(zeros: $0.weight.value.shape) }
        feedback = model.linears.map { Tensor(zeros: $0.weight.value.shape) }
        let learningRate = Float(h.real("learning_rate")), weightDecay = Float(h.real("weight_decay"))
        switch h.choice("optimizer") as OptimizerKind {
        case .adam:
            let adam = AdamW(learningRate: learningRate, weightDecay: weightDecay)
            step = { adam.step($0) }
        case .sgd:
            let sgd = SGD(learningRate: learningRate, momentum: 0.9, weightDecay: weightDecay)
            step = { sgd.step($0) }
        }
        if variant == .frsf { drawMagnitudes() }
    }

    public static func make(architecture: Architecture, inputShape: [Int], classCount: Int,
                            hyperparameters h: Hyperparameters, seed: UInt64) throws -> SignSymmetry {
        let model = try FeedbackNetwork(architecture: architecture, inputShape: inputShape, classCount: classCount, seed: seed, algorithm: id)
        return SignSymmetry(model: model, hyperparameters: h, seed: seed)
    }

    /// R ~ U(±√(6/(d_in+d_out))) for every dense layer.
    private func drawMagnitudes() {
        for (index, linear) in model.linears.enumerated() {
            let bound = (6 / Float(linear.inputSize + linear.outputSize)).squareRoot()
            magnitudes[index].fillUniform(in: -bound...bound, key: generator.next())
        }
    }

    /// B_ℓ from the current signs of W_ℓ.
    func rebuildFeedback() {
        if variant == .brsf { drawMagnitudes() }
        for index in model.linears.indices.dropFirst() {
            let weight = model.linears[index].weight.value
            if variant == .usf {
                feedback[index].assignSigns(of: weight, scale: scales[index])
            } else {
                feedback[index].assignSigns(of: weight, scale: 1, magnitudes: magnitudes[index])
            }
        }
    }

    public var stages: [Stage] { [Stage(name: "model")] }

    public func parameters(of stage: Int) -> [Parameter] { model.trainable }

    public func trainBatch(_ batch: Batch, stage: Int, loss: LossSum) {
        rebuildFeedback()
        model.accumulateGradients(batch, loss: loss) { feedback[$0] }
        step(model.trainable)
    }

    public func validate(_ batch: Batch, stage: Int, into sums: EvaluationSums) { model.validate(batch, into: sums) }

    /// The parameters, the feedback matrices and their random magnitudes.
    public func move(to backend: (any DeviceBackend)?) {
        moveParametersAndState(to: backend)
        magnitudes = magnitudes.map { $0.moved(to: backend) }
        feedback = feedback.map { $0.moved(to: backend) }
    }

    public func countCorrect(_ batch: Batch) -> Int { validate(batch, stage: 0).correct }
}
