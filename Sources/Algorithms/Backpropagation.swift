import Datasets
import Records
import NeuralNetwork
import TensorCore
import Training

/// Backpropagation: the network trained end to end with softmax cross-entropy and AdamW
/// (the study's BP baseline). One stage.
/// - Paper: Rumelhart, Hinton & Williams, "Learning representations by back-propagating errors", Nature 1986.
public final class Backpropagation: RegisteredAlgorithm {
    public static let id = "bp"
    public static let role = AlgorithmDescriptor.Role.baseline
    /// Defaults: the study's Fashion-MNIST 2x1000 baseline.
    public static let hyperparameterSpecs: [HyperparameterSpec] = [
        .real("learning_rate", 2e-4, "AdamW learning rate").searched(logUniformIn: 1e-5...1e-2),
        .real("weight_decay", 3e-5, "AdamW decoupled weight decay").searched(logUniformIn: 1e-6...1e-3),
        .integer("batch_size", 128, "training batch size"),
        .real("beta1", 0.9, in: 0...0.999_999, "AdamW β1"),
        .real("beta2", 0.999, in: 0...0.999_999, "AdamW β2"),
        .real("epsilon", 1e-8, "AdamW ε"),
        .choice("init", "pytorch", of: ["pytorch", "study"],
                "initial weights: PyTorch's defaults, or the study's (MLP: hidden U(±√(6/fan_in)), b = 0, output N(0, 0.01²); CNN: Kaiming-uniform convolutions)"),
    ]

    /// The study's BP (`src/baselines/bp.py`, `configs/bp_baselines`): AdamW with its tuned rate
    /// and decay per configuration, stopped on validation loss (min_delta 0, its patience per
    /// configuration, 100 epochs), tested with the weights of the best validation *accuracy*
    /// (`save_best_metric: bp_val_accuracy`). Its networks start as the study's models: `MF_MLP`
    /// for the 2x1000 and 3x2000 MLPs, `CaFo_CNN` for the CNN, PyTorch's layers for the `FF_MLP`
    /// configurations (3x1000, 4x2000).
    public static func seedPaper(dataset: String, architecture: Architecture, options: [String: String], cap: Int) -> SeedPaper? {
        let tuned: [String: (patience: Int, learningRate: Double, weightDecay: Double)] = [
            "mnist/mlp-2x1000": (10, 1.9762189340280086e-4, 7.4763120622522945e-6),
            "mnist/mlp-3x1000": (30, 1.329291894316216e-4, 7.114476009343421e-4),
            "mnist/mlp-4x2000": (40, 1.329291894316216e-4, 7.114476009343421e-4),
            "fmnist/mlp-2x1000": (10, 2.1316290979390737e-4, 2.7122805865833542e-5),
            "fmnist/mlp-4x2000": (10, 2.040628171913876e-4, 4.186646492145325e-6),
            "cifar10/mlp-3x2000": (20, 8.11587582031004e-5, 2.0847447927718932e-5),
            "cifar100/mlp-3x2000": (5, 1.0362161015212055e-4, 9.105881789069153e-6),
            "mnist/cnn-3block": (10, 1.570297088405539e-3, 6.251373574521755e-5),
            "fmnist/cnn-3block": (10, 5.64093098959669e-4, 8.597071465954117e-6),
            "cifar10/cnn-3block": (40, 6.7628739201322655e-3, 4.7418070637518205e-6),
            "cifar100/cnn-3block": (20, 3.201243830098061e-4, 5.880350745731698e-5),
        ]
        let configuration = tuned["\(dataset)/\(architecture)"]
        var defaults = configuration.map { ["bp.learning_rate": "\($0.learningRate)", "bp.weight_decay": "\($0.weightDecay)"] } ?? [:]
        let model: Initialisation
        switch architecture {
        case .cnn: model = .study
        case .mlp: model = ["mlp-2x1000", "mlp-3x2000"].contains(architecture.description) ? .study : .pytorch
        }
        defaults["bp.init"] = model.rawValue
        return SeedPaper(stopping: StoppingRule(patience: configuration?.patience ?? StoppingRule.harmonized.patience, minDelta: 0,
                                                maxEpochs: min(cap, 100)),
                         restore: .bestValidationAccuracy, defaults: defaults)
    }
    public static let defaultArchitecture = Architecture.mlp(hiddenWidths: [1000, 1000])
    public static let defaultCIFARArchitecture = Architecture.mlp(hiddenWidths: [2000, 2000, 2000])

    public let network: Sequential
    private let optimizer: Adam
    private let loss = SoftmaxCrossEntropy()
    private let trainable: [Parameter]

    /// BP on `network` with AdamW.
    public init(network: Sequential, hyperparameters h: Hyperparameters) {
        self.network = network
        trainable = network.parameters
        optimizer = AdamW(learningRate: Float(h.real("learning_rate")), beta1: Float(h.real("beta1")),
                          beta2: Float(h.real("beta2")), epsilon: Float(h.real("epsilon")),
                          weightDecay: Float(h.real("weight_decay")))
    }

    public static func make(architecture: Architecture, inputShape: [Int], classCount: Int,
                            hyperparameters: Hyperparameters, seed: UInt64) throws -> Backpropagation {
        var generator = SeededGenerator(seed: seed, stream: "weights")
        let network = try architecture.makeNetwork(inputShape: inputShape, classCount: classCount, initialisation: hyperparameters.choice("init"),
                                                   using: &generator)
        return Backpropagation(network: network, hyperparameters: hyperparameters)
    }

    public var stages: [Stage] { [Stage(name: "model")] }

    public func parameters(of stage: Int) -> [Parameter] { trainable }

    /// The whole network: its parameters and batch-norm statistics.
    public func state(of stage: Int) -> [StateTensor] { network.state }

    public func trainBatch(_ batch: Batch, stage: Int, loss total: LossSum) {
        let logits = network.forward(batch.inputs, mode: .training)
        loss.lossAndGradient(logits: logits, of: batch, addingMeanTo: total)
        _ = network.backward(loss.gradient, inputGradient: .notNeeded)
        optimizer.step(trainable)
    }

    public func validate(_ batch: Batch, stage: Int, into sums: EvaluationSums) {
        SoftmaxCrossEntropy.evaluate(logits: network.forward(batch.inputs, mode: .inference), of: batch, into: sums)
    }

    public func countCorrect(_ batch: Batch) -> Int {
        validate(batch, stage: 0).correct
    }
}
