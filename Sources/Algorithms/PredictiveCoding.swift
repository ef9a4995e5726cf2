import Datasets
import NeuralNetwork
import Records
import TensorCore
import Training

/// Predictive coding ("inference learning"): value nodes μ_ℓ relax for T steps on the energy,
/// then each layer updates from its own prediction error, a local Hebbian product:
///
///     μ_0 = X (clamped),  μ_ℓ = h_ℓ initially (feedforward, so ε_ℓ = 0),  a_ℓ = μ_{ℓ−1}·W_ℓᵀ + b_ℓ
///     ε_ℓ = μ_ℓ − f(a_ℓ),  z = μ_L·W_{L+1}ᵀ + b_{L+1},  E = Σ_n [Σ_ℓ ½‖ε_ℓ‖² + β·CE(z, y)]
///     T synchronous steps μ_ℓ ← μ_ℓ − γ·∂E/∂μ_ℓ:
///         ∂E/∂μ_ℓ = ε_ℓ − (ε_{ℓ+1} ⊙ f'(a_{ℓ+1}))·W_{ℓ+1}  (ℓ < L),   ∂E/∂μ_L = ε_L + β·(softmax(z) − Y)·W_{L+1}
///     then, from the relaxed state (Adam on the batch mean):
///         ∂W_ℓ = −(ε_ℓ ⊙ f'(a_ℓ))ᵀ·μ_{ℓ−1}/N,  ∂W_{L+1} = β·(softmax(z) − Y)ᵀ·μ_L/N   (biases alike)
///
/// `strict` recomputes a_ℓ, f'(a_ℓ) and z from the current μ at every step (3L+2+2L·T products
/// a batch); `fixed-prediction` keeps them at their feedforward values and updates from the
/// feedforward activities (pypc; then the update is BP's direction scaled per layer). With
/// β → 0 and the update divided by β, strict PC's update tends to BP's gradient (Whittington &
/// Bogacz's limit); at the default β = 1 it is not BP. Test time is a plain forward pass.
/// - Paper: Whittington & Bogacz, "An approximation of the error backpropagation algorithm in a
///   predictive coding network with local Hebbian synaptic plasticity", Neural Computation
///   29(5):1229–1262, 2017.
public final class PredictiveCoding: RegisteredAlgorithm {
    public enum Variant: String, Sendable {
        case strict
        case fixedPrediction = "fixed-prediction"
    }

    public static let id = "pc"
    public static let control: String? = ShallowControl.id
    public static let comparisons = [DeclaredComparison("pc", on: "mlp-2x1000", datasets: ["mnist", "fashion-mnist"], quick: .init())]
    public static let hyperparameterSpecs: [HyperparameterSpec] = [
        .real("learning_rate", 2e-4, "Adam learning rate of the weights").searched(logUniformIn: 1e-5...1e-2),
        .real("weight_decay", 0, "Adam L2 weight decay").searched(logUniformIn: 1e-6...1e-3),
        .integer("batch_size", 128, "training batch size"),
        .integer("T", 20, in: 1...1000, "inference steps per batch"),
        .real("gamma", 0.1, in: 1e-6...1, "inference rate γ of the value nodes").searched(logUniformIn: 0.01...0.5),
        .real("beta", 1, in: 1e-6...1e6, "weight β of the output energy (β → 0 with updates ÷β: BP's gradient)"),
        .choice("variant", "strict", of: ["strict", "fixed-prediction"], "recompute predictions every step, or keep the feedforward ones"),
    ]
    public static let defaultArchitecture = Architecture.mlp(hiddenWidths: [1000, 1000])
    public static let defaultCIFARArchitecture = Architecture.mlp(hiddenWidths: [2000, 2000, 2000])

    /// Every dense layer, first to last (BP's initial weights).
    let layers: [Linear]
    let steps: Int
    let gamma: Float
    let beta: Float
    let variant: Variant
    private let optimizer: Adam
    private let trainable: [Parameter]
    private let loss = SoftmaxCrossEntropy()
    // Per hidden layer ℓ = 1…L (index ℓ−1): value nodes, pre-activations, predictions f(a), errors, ∂E/∂μ.
    private var values: [Tensor], preactivations: [Tensor], predictions: [Tensor], errors: [Tensor], energyGradients: [Tensor]
    private var logits = Tensor(zeros: [0]), probabilities = Tensor(zeros: [0]), targets = Tensor(zeros: [0])
    private var outputError = Tensor(zeros: [0]), signal = Tensor(zeros: [0])

    init(layers: [Linear], hyperparameters h: Hyperparameters) {
        self.layers = layers
        steps = h.integer("T")
        gamma = Float(h.real("gamma"))
        beta = Float(h.real("beta"))
        variant = h.choice("variant")
        optimizer = Adam(learningRate: Float(h.real("learning_rate")), weightDecay: Float(h.real("weight_decay")))
        trainable = layers.flatMap(\.parameters)
        values = Array(repeating: Tensor(zeros: [0]), count: layers.count - 1)
        preactivations = values
        predictions = values
        errors = values
        energyGradients = values
    }

    /// BP's MLP (PyTorch's layers, the "weights" stream).
    public static func make(architecture: Architecture, inputShape: [Int], classCount: Int,
                            hyperparameters h: Hyperparameters, seed: UInt64) throws -> PredictiveCoding {
        guard case .mlp = architecture else {
            throw ConfigurationError(field: "--architecture", problem: "pc needs an MLP architecture")
        }
        var weights = SeededGenerator(seed: seed, stream: "weights")
        let network = try architecture.makeNetwork(inputShape: inputShape, classCount: classCount, using: &weights)
        return PredictiveCoding(layers: network.layers.compactMap { $0 as? Linear }, hyperparameters: h)
    }

    public var stages: [Stage] { [Stage(name: "model")] }

    public func parameters(of stage: Int) -> [Parameter] { trainable }

    /// a_ℓ and f(a_ℓ) for hidden layers `from`…L from the current value nodes, and the logits;
    /// `settingValues`: each μ_ℓ set to its prediction on the way (the feedforward pass).
    private func predict(_ x: Tensor, from first: Int, settingValues: Bool = false) {
        for index in first..<values.count {
            let input = index == 0 ? x : values[index - 1]
            Tensor.matmul(input, .none, layers[index].weight.value, .transposed, into: &preactivations[index])
            BiasKernels.addRows(&preactivations[index], bias: layers[index].bias!.value)
            ActivationKernels.reluForward(preactivations[index], into: &predictions[index])
            if settingValues { values[index].assign(predictions[index]) }
        }
        Tensor.matmul(values[values.count - 1], .none, layers.last!.weight.value, .transposed, into: &logits)
        BiasKernels.addRows(&logits, bias: layers.last!.bias!.value)
    }

    /// ε_ℓ = μ_ℓ − f(a_ℓ) and the output error softmax(z) − Y.
    private func computeErrors() {
        for index in values.indices { errors[index].assignDifference(values[index], predictions[index]) }
        logits.softmaxRows(into: &probabilities)
        outputError.assignDifference(probabilities, targets)
    }

    public func trainBatch(_ batch: Batch, stage: Int, loss: LossSum) {
        accumulateGradients(batch, loss: loss)
        optimizer.step(trainable)
    }

    /// Relaxes the value nodes and accumulates every layer's gradient; adds the feedforward loss to `total`.
    func accumulateGradients(_ batch: Batch, loss total: LossSum) {
        let x = batch.inputs.reshaped([batch.inputs.rows, batch.inputs.columns])
        let n = Float(x.rows)
        let hiddenCount = values.count
        // Feedforward initialisation: μ_ℓ = f(a_ℓ), so every ε_ℓ starts at 0.
        predict(x, from: 0, settingValues: true)
        loss.lossAndGradient(logits: logits, of: batch, addingMeanTo: total)
        targets.assignOneHot(ofLabels: batch, classCount: logits.columns)
        computeErrors()
        for _ in 0..<steps {
            // ∂E/∂μ_ℓ from one state for every layer, then every μ_ℓ moves (synchronous).
            for index in 0..<hiddenCount {
                energyGradients[index].assign(errors[index])                                          // ε_ℓ
                if index + 1 < hiddenCount {
                    ActivationKernels.reluBackward(errors[index + 1], output: predictions[index + 1], into: &signal)  // ε_{ℓ+1} ⊙ f'(a_{ℓ+1})
                    Tensor.matmul(signal, .none, layers[index + 1].weight.value, .none, into: &energyGradients[index], alpha: -1, beta: 1)
                } else {
                    Tensor.matmul(outputError, .none, layers.last!.weight.value, .none, into: &energyGradients[index], alpha: beta, beta: 1)
                }
            }
            for index in 0..<hiddenCount { values[index].add(energyGradients[index], scaledBy: -gamma) }
            if variant == .strict {
                predict(x, from: 1)  // a_1 depends on the clamped input only
                computeErrors()
            } else {
                for index in 0..<hiddenCount { errors[index].assignDifference(values[index], predictions[index]) }
            }
        }
        // Local updates: ∂W_ℓ = −(ε_ℓ ⊙ f'(a_ℓ))ᵀ·pre/N; pre = μ_{ℓ−1} (strict) or the feedforward h_{ℓ−1}.
        for index in 0..<hiddenCount {
            ActivationKernels.reluBackward(errors[index], output: predictions[index], into: &signal)
            signal.scale(by: -1 / n)
            let presynaptic = index == 0 ? x : (variant == .strict ? values[index - 1] : predictions[index - 1])
            Tensor.matmul(signal, .transposed, presynaptic, .none, into: &layers[index].weight.gradient, beta: 1)
            BiasKernels.accumulateColumnSums(of: signal, into: &layers[index].bias!.gradient)
        }
        outputError.scale(by: beta / n)
        let top = variant == .strict ? values[hiddenCount - 1] : predictions[hiddenCount - 1]
        Tensor.matmul(outputError, .transposed, top, .none, into: &layers.last!.weight.gradient, beta: 1)
        BiasKernels.accumulateColumnSums(of: outputError, into: &layers.last!.bias!.gradient)
    }

    public func validate(_ batch: Batch, stage: Int, into sums: EvaluationSums) {
        var h = batch.inputs
        for (index, layer) in layers.dropLast().enumerated() {
            ActivationKernels.reluForward(layer.forward(h, mode: .inference), into: &predictions[index])
            h = predictions[index]
        }
        SoftmaxCrossEntropy.evaluate(logits: layers.last!.forward(h, mode: .inference), of: batch, into: sums)
    }

    public func countCorrect(_ batch: Batch) -> Int { validate(batch, stage: 0).correct }
}
