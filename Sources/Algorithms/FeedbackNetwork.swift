import Datasets
import NeuralNetwork
import TensorCore
import Training

/// An MLP trained by backpropagation's chain with each transposed forward weight replaced by a
/// feedback matrix of the same shape: `δh_{ℓ−1} = δ_ℓ·B_ℓ`, `δ_{ℓ−1} = δh_{ℓ−1} ⊙ f'(a_{ℓ−1})`, and every
/// layer's gradient `∂W_ℓ = δ_ℓᵀ·h_{ℓ−1}` as BP's. Feedback Alignment and sign symmetry differ
/// only in the B they pass; `B_ℓ = W_ℓ` is BP itself, GEMM for GEMM.
final class FeedbackNetwork {
    /// BP's network for the architecture: the same layers, initialised from the same stream.
    let network: Sequential
    /// The dense layers, first to last.
    let linears: [Linear]
    let trainable: [Parameter]
    private let loss = SoftmaxCrossEntropy()
    /// `δh` below each dense layer but the first.
    private var signals: [Tensor]

    /// The MLP BP builds for `architecture` from `seed`'s "weights" stream (PyTorch's layers).
    init(architecture: Architecture, inputShape: [Int], classCount: Int, seed: UInt64, algorithm: String) throws {
        guard case .mlp = architecture else {
            throw ConfigurationError(field: "--architecture", problem: "\(algorithm) needs an MLP architecture")
        }
        var weights = SeededGenerator(seed: seed, stream: "weights")
        network = try architecture.makeNetwork(inputShape: inputShape, classCount: classCount, using: &weights)
        linears = network.layers.compactMap { $0 as? Linear }
        trainable = network.parameters
        signals = linears.map { _ in Tensor(zeros: [0]) }
    }

    /// Forward pass, softmax cross-entropy, and the chain with `feedback(ℓ)` (the shape of
    /// `linears[ℓ].weight`) carrying the signal below dense layer ℓ ≥ 1. Adds the batch loss to `total`.
    func accumulateGradients(_ batch: Batch, loss total: LossSum, feedback: (Int) -> Tensor) {
        let logits = network.forward(batch.inputs, mode: .training)
        loss.lossAndGradient(logits: logits, of: batch, addingMeanTo: total)
        var g = loss.gradient  // δ_{L+1} = (softmax − Y)/N
        var index = linears.count - 1
        for layer in network.layers.reversed() {
            guard let linear = layer as? Linear else {
                g = layer.backward(g, inputGradient: .needed)!  // δ = δh ⊙ f'(a)
                continue
            }
            _ = linear.backward(g, inputGradient: .notNeeded)  // ∂W += δᵀ·h, ∂b += 1ᵀ·δ
            guard index > 0 else { break }
            Tensor.matmul(g, .none, feedback(index), .none, into: &signals[index])  // δh = δ·B   (N×out · out×in)
            g = signals[index]
            index -= 1
        }
    }

    func validate(_ batch: Batch, into sums: EvaluationSums) {
        SoftmaxCrossEntropy.evaluate(logits: network.forward(batch.inputs, mode: .inference), of: batch, into: sums)
    }
}
