import Datasets
import NeuralNetwork
import Records
import TensorCore
import Training

/// Forward gradient: directional derivatives from forward-mode products along random tangents
/// v ~ N(0, I), `g = (∇L·v)·v`, an unbiased estimate of ∇L; no backward pass through the network.
///
/// `fg.perturbation=activity` (Ren et al.'s local variant, the default): each hidden layer has a
/// local softmax head (M_ℓ, c_ℓ) and loss L_ℓ = CE(h_ℓ·M_ℓᵀ + c_ℓ, y) with h_{ℓ−1} held constant; a
/// per-example tangent U_ℓ ~ N(0, I) (N×d_ℓ, fresh every step) perturbs the pre-activation a_ℓ:
///
///     E_ℓ = (softmax(h_ℓ·M_ℓᵀ + c_ℓ) − Y)/N,  V = f'(a_ℓ) ⊙ U_ℓ,  Ṡ = V·M_ℓᵀ,  d_n = Σ_c E_ℓ[n,c]·Ṡ[n,c]
///     Ĝ_ℓ = diag(d)·V  (estimates ∂L_ℓ/∂a_ℓ),  ∂W_ℓ = Ĝ_ℓᵀ·h_{ℓ−1},  ∂b_ℓ = 1ᵀ·Ĝ_ℓ
///
/// the heads and the output layer (on h_L, held constant) with their exact gradients; the output
/// layer predicts. `fg.perturbation=weight` (Baydin et al.): one tangent V over all parameters
/// per batch, the JVP `ȧ_ℓ = ḣ_{ℓ−1}·W_ℓᵀ + h_{ℓ−1}·V_ℓᵀ + v_ℓ`, `ḣ_ℓ = f'(a_ℓ) ⊙ ȧ_ℓ`,
/// `d = Σ e ⊙ ȧ_{L+1}` and `ĝ = d·V`. `fg.tangents` K averages K estimates. Activity is the default
/// because the weight estimator's variance grows with the parameter count (≈1.8 M here) and, in
/// the rules.md checks, it is the one that trains stably.
/// - Paper: Baydin, Pearlmutter, Syme, Wood & Torr, "Gradients without Backpropagation", arXiv
///   2202.08587, 2022; Ren, Kornblith, Liao & Hinton, "Scaling Forward Gradient with Local
///   Losses", ICLR 2023.
public final class ForwardGradient: RegisteredAlgorithm {
    /// What the tangents perturb.
    public enum Perturbation: String, Sendable {
        case activity, weight
    }

    public static let id = "fg"
    public static let control: String? = ShallowControl.id
    public static let comparisons = [DeclaredComparison("fg", on: "mlp-2x1000", datasets: ["mnist", "fashion-mnist"], quick: .init())]
    public static let hyperparameterSpecs: [HyperparameterSpec] = [
        .real("learning_rate", 1e-4, "Adam learning rate of the hidden layers (10× below BP's: estimate noise becomes full steps)")
            .searched(logUniformIn: 1e-6...1e-3),
        .real("output_learning_rate", 1e-3, "Adam learning rate of the exact-gradient heads and output layer (Ren et al.'s head_lr, last_layer_lr)")
            .searched(logUniformIn: 1e-5...1e-2),
        .real("weight_decay", 0, "Adam L2 weight decay").searched(logUniformIn: 1e-6...1e-3),
        .integer("batch_size", 128, "training batch size"),
        .choice("perturbation", "activity", of: ["activity", "weight"],
                "per-example tangents on pre-activations with local heads (Ren), or one tangent over all weights (Baydin)"),
        .integer("tangents", 1, in: 1...64, "tangents averaged per step (K)"),
    ]
    public static let defaultArchitecture = Architecture.mlp(hiddenWidths: [1000, 1000])
    public static let defaultCIFARArchitecture = Architecture.mlp(hiddenWidths: [2000, 2000, 2000])

    /// The hidden layers, first to last, and the output layer (BP's initial weights).
    let hidden: [Linear]
    let output: Linear
    /// One local head per hidden layer (activity perturbation only).
    let heads: [Linear]
    let perturbation: Perturbation
    let tangentCount: Int
    /// The hidden layers' optimizer (estimated gradients) and the heads' and output layer's (exact ones).
    private let optimizer: Adam, exactOptimizer: Adam
    private let estimated: [Parameter], exact: [Parameter]
    private let trainable: [Parameter]
    private var generator: SeededGenerator
    /// Fills a tangent (standard normal; a test substitutes basis vectors).
    var drawTangent: (inout Tensor, inout SeededGenerator) -> Void = { tangent, generator in tangent.fillNormal(key: generator.next()) }
    private let loss = SoftmaxCrossEntropy(), headLoss = SoftmaxCrossEntropy()
    /// Where the heads' local losses go: they train, the run reports the output layer's loss.
    private let unreportedLoss = LossSum()
    // Per hidden layer: activities h_ℓ = f(a_ℓ) and, for weight tangents, pre-activations and tangents ȧ_ℓ, ḣ_ℓ.
    private var activities: [Tensor], preactivations: [Tensor], tangentPre: [Tensor], tangentActivities: [Tensor]
    /// Weight tangents, one per trainable parameter (weight perturbation only).
    private var weightTangents: [Tensor]
    private var noise = Tensor(zeros: [0]), masked = Tensor(zeros: [0]), headTangent = Tensor(zeros: [0])
    private var dots = Tensor(zeros: [0]), directional = Tensor(zeros: [0]), estimate = Tensor(zeros: [0]), logits = Tensor(zeros: [0]), outputTangent = Tensor(zeros: [0])

    init(hidden: [Linear], output: Linear, heads: [Linear], hyperparameters h: Hyperparameters, seed: UInt64) {
        self.hidden = hidden
        self.output = output
        self.heads = heads
        perturbation = h.choice("perturbation")
        tangentCount = h.integer("tangents")
        optimizer = Adam(learningRate: Float(h.real("learning_rate")), weightDecay: Float(h.real("weight_decay")))
        exactOptimizer = Adam(learningRate: Float(h.real("output_learning_rate")), weightDecay: Float(h.real("weight_decay")))
        trainable = hidden.flatMap(\.parameters) + output.parameters + heads.flatMap(\.parameters)
        // Baydin's estimate covers every weight, the output layer's too.
        estimated = perturbation == .weight ? trainable : hidden.flatMap(\.parameters)
        exact = perturbation == .weight ? [] : output.parameters + heads.flatMap(\.parameters)
        generator = SeededGenerator(seed: seed, stream: "tangents")
        activities = hidden.map { _ in Tensor(zeros: [0]) }
        preactivations = activities
        tangentPre = activities
        tangentActivities = activities
        weightTangents = perturbation == .weight ? trainable.map { Tensor(zeros: $0.value.shape) } : []
    }

    /// BP's MLP (PyTorch's layers, the "weights" stream); heads from the "heads" stream.
    public static func make(architecture: Architecture, inputShape: [Int], classCount: Int,
                            hyperparameters h: Hyperparameters, seed: UInt64) throws -> ForwardGradient {
        guard case .mlp = architecture else {
            throw ConfigurationError(field: "--architecture", problem: "fg needs an MLP architecture")
        }
        var weights = SeededGenerator(seed: seed, stream: "weights")
        let linears = try architecture.makeNetwork(inputShape: inputShape, classCount: classCount, using: &weights).layers.compactMap { $0 as? Linear }
        var headGenerator = SeededGenerator(seed: seed, stream: "heads")
        let activity = h.choice("perturbation") as Perturbation == .activity
        let heads = activity ? linears.dropLast().enumerated().map { index, layer in
            Linear(inputSize: layer.outputSize, outputSize: classCount, name: "head\(index + 1)", using: &headGenerator)
        } : []
        return ForwardGradient(hidden: Array(linears.dropLast()), output: linears.last!, heads: heads, hyperparameters: h, seed: seed)
    }

    public var stages: [Stage] { [Stage(name: "model")] }

    public func parameters(of stage: Int) -> [Parameter] { trainable }

    public func trainBatch(_ batch: Batch, stage: Int, loss: LossSum) {
        if perturbation == .activity { activityStep(batch, loss: loss) } else { weightStep(batch, loss: loss) }
        optimizer.step(estimated)
        exactOptimizer.step(exact)
    }

    /// Ren et al.'s local activity-perturbed forward gradients; adds the output layer's loss to `total`.
    func activityStep(_ batch: Batch, loss total: LossSum) {
        var input = batch.inputs.reshaped([batch.inputs.rows, batch.inputs.columns])
        let share = 1 / Float(tangentCount)
        for (index, layer) in hidden.enumerated() {
            let a = layer.forward(input, mode: .training)
            ActivationKernels.reluForward(a, into: &activities[index])                           // h = f(a)
            let head = heads[index]
            headLoss.lossAndGradient(logits: head.forward(activities[index], mode: .training), of: batch, addingMeanTo: unreportedLoss)
            _ = head.backward(headLoss.gradient, inputGradient: .notNeeded)                       // exact ∂M, ∂c
            estimate.resize(to: a.shape, on: a.backend)
            estimate.fill(0)
            for _ in 0..<tangentCount {
                noise.resize(to: a.shape, on: a.backend)
                drawTangent(&noise, &generator)                                                   // U ~ N(0, I)
                ActivationKernels.reluBackward(noise, output: activities[index], into: &masked)  // V = f'(a) ⊙ U
                Tensor.matmul(masked, .none, head.weight.value, .transposed, into: &headTangent) // Ṡ = V·Mᵀ
                headLoss.gradient.rowDots(headTangent, into: &dots)                               // d_n = Σ_c E·Ṡ
                masked.scaleRows(by: dots)                                                        // Ĝ = diag(d)·V
                estimate.add(masked, scaledBy: share)
            }
            _ = layer.backward(estimate, inputGradient: .notNeeded)                               // ∂W += Ĝᵀ·h_{ℓ−1}
            input = activities[index]
        }
        loss.lossAndGradient(logits: output.forward(input, mode: .training), of: batch, addingMeanTo: total)
        _ = output.backward(loss.gradient, inputGradient: .notNeeded)
    }

    /// Baydin et al.'s weight-perturbed forward gradient; adds the batch loss to `total`.
    func weightStep(_ batch: Batch, loss total: LossSum) {
        let x = batch.inputs.reshaped([batch.inputs.rows, batch.inputs.columns])
        var input = x
        for (index, layer) in hidden.enumerated() {
            Tensor.matmul(input, .none, layer.weight.value, .transposed, into: &preactivations[index])
            BiasKernels.addRows(&preactivations[index], bias: layer.bias!.value)
            ActivationKernels.reluForward(preactivations[index], into: &activities[index])
            input = activities[index]
        }
        Tensor.matmul(input, .none, output.weight.value, .transposed, into: &logits)
        BiasKernels.addRows(&logits, bias: output.bias!.value)
        loss.lossAndGradient(logits: logits, of: batch, addingMeanTo: total)  // e = (softmax − Y)/N
        let layers = hidden + [output]
        for _ in 0..<tangentCount {
            for index in weightTangents.indices { drawTangent(&weightTangents[index], &generator) }
            // Tangents are (weight, bias) pairs in `trainable` order: layer ℓ's are 2ℓ and 2ℓ+1.
            for (index, layer) in layers.enumerated() {
                let primal = index == 0 ? x : activities[index - 1]
                let isOutput = index == hidden.count
                if isOutput {
                    Tensor.matmul(primal, .none, weightTangents[2 * index], .transposed, into: &outputTangent)    // h·Vᵀ
                    BiasKernels.addRows(&outputTangent, bias: weightTangents[2 * index + 1])                   // + v
                    if index > 0 {                                                                             // + ḣ·Wᵀ
                        Tensor.matmul(tangentActivities[index - 1], .none, layer.weight.value, .transposed, into: &outputTangent, beta: 1)
                    }
                } else {
                    Tensor.matmul(primal, .none, weightTangents[2 * index], .transposed, into: &tangentPre[index])
                    BiasKernels.addRows(&tangentPre[index], bias: weightTangents[2 * index + 1])
                    if index > 0 {
                        Tensor.matmul(tangentActivities[index - 1], .none, layer.weight.value, .transposed, into: &tangentPre[index], beta: 1)
                    }
                    ActivationKernels.reluBackward(tangentPre[index], output: activities[index], into: &tangentActivities[index])  // ḣ = f'(a) ⊙ ȧ
                }
            }
            loss.gradient.rowDots(outputTangent, into: &dots)
            dots.sumInOrder(into: &directional)                                        // d = ∇L·V = Σ e ⊙ ȧ_{L+1}
            for (parameter, tangent) in zip(trainable, weightTangents) {
                parameter.gradient.add(tangent, scaledByScalarIn: directional, over: Float(tangentCount))  // ĝ = d·V
            }
        }
    }

    public func validate(_ batch: Batch, stage: Int, into sums: EvaluationSums) {
        var h = batch.inputs
        for (index, layer) in hidden.enumerated() {
            ActivationKernels.reluForward(layer.forward(h, mode: .inference), into: &activities[index])
            h = activities[index]
        }
        SoftmaxCrossEntropy.evaluate(logits: output.forward(h, mode: .inference), of: batch, into: sums)
    }

    public func countCorrect(_ batch: Batch) -> Int { validate(batch, stage: 0).correct }

    /// Every layer's and head's parameters, and the weight tangents.
    public func move(to backend: (any DeviceBackend)?) {
        moveParametersAndState(to: backend)
        weightTangents = weightTangents.map { $0.moved(to: backend) }
    }
}
