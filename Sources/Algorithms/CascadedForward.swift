import Foundation
import Datasets
import NeuralNetwork
import TensorCore
import Training

/// Cascaded Forward: frozen convolutional blocks (random, or pre-trained with DFA), each with
/// its own linear predictor trained on the block's cached features; inference sums the
/// predictors' outputs. Stages: the DFA block pre-training (if any), then one per predictor.
/// - Paper: Zhao et al., "The Cascaded Forward Algorithm for Neural Network Training", arXiv 2303.09728.
public final class CascadedForward: RegisteredAlgorithm {
    /// How the blocks get their weights.
    public enum Blocks: String, Sendable { case rand, dfa }
    /// The predictors' loss.
    public enum Loss: String, Sendable { case ce, mse, sl }
    /// What the blocks' BatchNorm normalises with.
    public enum BatchNormStatistics: String, Sendable {
        /// The statistics of the training split's block features.
        case train
        /// PyTorch's running statistics after `CaFo_CNN`'s shape probe (one training-mode pass
        /// of a zero image): mean 0, variance 0.9 (the study's frozen random blocks never saw data).
        case initial
    }
    /// How the CE and SL predictors are trained.
    public enum Solver: String, Sendable {
        /// Minibatches with Adam (bpfree's default).
        case adam
        /// The official code: full-batch gradient descent from all-ones weights, no bias.
        case fullBatch = "full-batch"
    }
    /// What the predictors' outputs are summed as.
    public enum Inference: String, Sendable { case logits, probabilities }

    public static let id = "cafo"
    public static let hyperparameterSpecs: [HyperparameterSpec] = [
        .choice("blocks", "rand", of: ["rand", "dfa"], "blocks frozen at random initialisation, or pre-trained with DFA first"),
        .choice("loss", "ce", of: ["ce", "mse", "sl"], "predictor loss: cross-entropy, MSE (closed form), sparsemax loss"),
        .choice("solver", "adam", of: ["adam", "full-batch"], "ce/sl predictors: Adam minibatches, or the official full-batch gradient descent from all-ones"),
        .real("learning_rate", 1e-3, "predictor Adam learning rate").searched(logUniformIn: 2e-4...5e-3),
        .real("weight_decay", 0, "predictor Adam L2 weight decay").searched(logUniformIn: 1e-7...1e-4),
        .real("step", 0.01, "full-batch gradient-descent step (solver full-batch)"),
        .real("block_learning_rate", 1.37e-4, "DFA block pre-training Adam learning rate")
            .searched(logUniformIn: 2e-5...5e-4, when: "blocks", is: "dfa"),
        .real("block_weight_decay", 0, "DFA block pre-training Adam L2 weight decay")
            .searched(logUniformIn: 1e-7...1e-4, when: "blocks", is: "dfa"),
        .integer("batch_size", 128, "training batch size (block pre-training and predictors)"),
        .choice("inference", "logits", of: ["logits", "probabilities"], "sum the predictors' logits, or their softmax/sparsemax outputs (official)"),
        .real("bn_epsilon", 1e-4, "BatchNorm ε of the blocks (official code: 1e-4)"),
        .choice("bn_statistics", "train", of: ["train", "initial"],
                "what the blocks' BatchNorm normalises with: the training split's block features, or PyTorch's initial running statistics after its constructor's pass over zeros (mean 0, variance 0.9), as the study's frozen random blocks did"),
        .choice("init", "pytorch", of: ["pytorch", "study"], "convolutions: PyTorch's U(±1/√fan_in), or the study's Kaiming-uniform U(±√(6/fan_in))"),
        .integer("chunk", 500, "samples per chunk when block features are computed"),
    ]

    /// The study's CaFo (`src/algorithms/cafo.py`, `configs/cafo`): each predictor capped at
    /// `num_epochs_per_block`, stopped on its validation loss with the config's patience and
    /// min_delta, keeping its *last* epoch; DFA blocks pre-trained for a fixed number of epochs.
    /// NOTE: the Fashion-MNIST Rand config puts its predictor stopping keys at the top level,
    /// where the code does not read them: that run used the code's defaults, patience 10 and
    /// min_delta 0.
    public static func seedPaper(dataset: String, architecture: Architecture, options: [String: String], cap: Int) -> SeedPaper? {
        typealias Configuration = (cap: Int, patience: Int, minDelta: Double, learningRate: Double, weightDecay: Double,
                                   blockEpochs: Int, blockLearningRate: Double, blockWeightDecay: Double)
        let rand: [String: Configuration] = [
            "mnist": (227, 8, 5e-4, 4.2136234742798395e-4, 1.6585525961391826e-6, 0, 0, 0),
            "fmnist": (145, 10, 0, 1.3737845955327983e-3, 2.937538457632828e-7, 0, 0, 0),
            "cifar10": (733, 8, 1e-3, 2.4111676098423975e-4, 6.3583588566762514e-6, 0, 0, 0),
            "cifar100": (1220, 10, 1e-3, 2.4111676098423975e-4, 6.3583588566762514e-6, 0, 0, 0),
        ]
        let dfa: [String: Configuration] = [
            "mnist": (12, 5, 5e-4, 2.5391813833013565e-4, 2.0840357948896564e-6, 5, 4.977965859721583e-4, 9.594431243311431e-7),
            "fmnist": (85, 6, 1e-3, 3.304463634024569e-4, 3.967605077052991e-5, 15, 1.384690524742107e-4, 1.3311216080736884e-5),
            "cifar10": (147, 8, 1e-3, 6.677511008261821e-4, 1.5702970884055385e-5, 250, 1.373784595532798e-4, 2.938027938703532e-7),
            "cifar100": (1271, 10, 1e-3, 6.677511008261821e-4, 1.5702970884055385e-5, 200, 1.373784595532798e-4, 2.938027938703532e-7),
        ]
        let isDFA = options["cafo.blocks"] == "dfa"
        guard let c = (isDFA ? dfa : rand)[dataset] else { return nil }
        let predictor = StoppingRule(patience: c.patience, minDelta: c.minDelta, maxEpochs: min(cap, c.cap))
        // Its blocks: Kaiming-uniform convolutions, PyTorch's BatchNorm ε; frozen random blocks
        // normalise with the running statistics of the constructor's shape probe.
        var seedPaper = SeedPaper(stopping: predictor, stages: ["predictor": predictor], restore: .last,
                                  defaults: ["cafo.learning_rate": "\(c.learningRate)", "cafo.weight_decay": "\(c.weightDecay)",
                                             "cafo.init": Initialisation.study.rawValue, "cafo.bn_epsilon": "1e-05"])
        if isDFA {
            seedPaper.stages["blocks"] = StoppingRule(patience: c.blockEpochs, minDelta: 0, maxEpochs: min(cap, c.blockEpochs), monitor: .none)
            seedPaper.defaults["cafo.block_learning_rate"] = "\(c.blockLearningRate)"
            seedPaper.defaults["cafo.block_weight_decay"] = "\(c.blockWeightDecay)"
        } else {
            seedPaper.defaults["cafo.bn_statistics"] = BatchNormStatistics.initial.rawValue
        }
        return seedPaper
    }
    public static let defaultArchitecture = Architecture.cnn(channels: Architecture.studyCNNChannels)
    public static let defaultCIFARArchitecture = Architecture.cnn(channels: Architecture.studyCNNChannels)

    let blocks: [Sequential]
    /// Each block's output as H×W×C, and flattened.
    let outputShapes: [[Int]]
    let featureSizes: [Int]
    let predictors: [Linear]
    let classCount: Int
    let blockKind: Blocks
    let loss: Loss
    let solver: Solver
    let inference: Inference
    let step: Float
    let chunk: Int
    let batchNormStatistics: BatchNormStatistics
    private let predictorOptimizer: Adam
    // DFA block pre-training: an auxiliary head on the last block and fixed feedback matrices
    // (C×D_b, unit-norm rows) for the others.
    let auxiliary: Linear?
    let feedback: [Tensor]
    private let blockOptimizer: Adam?
    private let crossEntropy = SoftmaxCrossEntropy()
    private let sparsemax = SparsemaxLoss()

    /// The current block's cached features: training (N×D_b) and validation (N×(D_b + C), the
    /// last C columns holding the summed outputs of the earlier predictors).
    private var trainFeatures: Tensor?
    private var validationFeatures: Tensor?
    private var cachedBlock = -1
    private var fullBatchSteps = 0
    private var signal = Tensor(zeros: [0])
    private var scratch = Tensor(zeros: [0])
    private var outputScratch = Tensor(zeros: [0])
    private var validationScratch = Tensor(zeros: [0])
    private var ensembleScratch: [Float] = []
    private var sortScratch: [Float] = []
    /// Samples each block has run forward on (train, validation and test: once per split).
    public private(set) var blockForwardSamples: [Int]

    init(blocks: [Sequential], outputShapes: [[Int]], predictors: [Linear], auxiliary: Linear?, feedback: [Tensor],
         classCount: Int, hyperparameters h: Hyperparameters) {
        self.blocks = blocks
        self.outputShapes = outputShapes
        featureSizes = outputShapes.map { $0.reduce(1, *) }
        self.predictors = predictors
        self.auxiliary = auxiliary
        self.feedback = feedback
        self.classCount = classCount
        blockKind = h.choice("blocks")
        loss = h.choice("loss")
        solver = h.choice("solver")
        inference = h.choice("inference")
        step = Float(h.real("step"))
        chunk = h.integer("chunk")
        batchNormStatistics = h.choice("bn_statistics")
        predictorOptimizer = Adam(learningRate: Float(h.real("learning_rate")), weightDecay: Float(h.real("weight_decay")))
        blockOptimizer = blockKind == .dfa
            ? Adam(learningRate: Float(h.real("block_learning_rate")), weightDecay: Float(h.real("block_weight_decay"))) : nil
        blockForwardSamples = Array(repeating: 0, count: blocks.count)
        if loss == .mse || solver == .fullBatch {
            // The official predictors: bias-free (the bias stays 0), full-batch ones start from all-ones.
            for predictor in predictors {
                predictor.bias?.value.fill(0)
                if loss != .mse { predictor.weight.value.fill(1) }
            }
        }
    }

    /// Blocks and predictors from the "weights" stream, the DFA feedback from "feedback".
    public static func make(architecture: Architecture, inputShape: [Int], classCount: Int,
                            hyperparameters h: Hyperparameters, seed: UInt64) throws -> CascadedForward {
        guard case .cnn = architecture else {
            throw ConfigurationError(field: "--architecture", problem: "cafo needs a CNN architecture (cnn-3block or cnn:C1,C2,...)")
        }
        let kind: Blocks = h.choice("blocks")
        var weights = SeededGenerator(seed: seed, stream: "weights")
        let initialisation: Initialisation = h.choice("init")
        let (blocks, sizes) = try architecture.makeBlocks(inputShape: inputShape, batchNormEpsilon: Float(h.real("bn_epsilon")),
                                                          trainBatchNorm: kind == .dfa,
                                                          convolutionInit: initialisation.reluLayers, using: &weights)
        guard case .cnn(let channels) = architecture, let (_, height, width) = Architecture.imageShape(inputShape) else {
            preconditionFailure("makeBlocks checked the shape")
        }
        var shapes: [[Int]] = [], (h0, w0) = (height, width)
        for out in channels {
            (h0, w0) = (h0 / 2, w0 / 2)
            shapes.append([h0, w0, out])
        }
        let predictors = sizes.enumerated().map { index, size in
            Linear(inputSize: size, outputSize: classCount, name: "predictor\(index + 1)", using: &weights)
        }
        var auxiliary: Linear?, feedback: [Tensor] = []
        if kind == .dfa {
            auxiliary = Linear(inputSize: sizes.last!, outputSize: classCount, name: "auxiliary", using: &weights)
            var generator = SeededGenerator(seed: seed, stream: "feedback")
            for size in sizes.dropLast() {
                var b = Tensor(shape: [classCount, size], normalWithStandardDeviation: 1, using: &generator)
                b.withUnsafeMutablePointer { p in
                    for row in 0..<classCount {
                        let r = p + row * size
                        var norm: Float = 0
                        for j in 0..<size { norm += r[j] * r[j] }
                        let scale = 1 / max(norm.squareRoot(), 1e-12)
                        for j in 0..<size { r[j] *= scale }
                    }
                }
                feedback.append(b)
            }
        }
        return CascadedForward(blocks: blocks, outputShapes: shapes, predictors: predictors, auxiliary: auxiliary,
                               feedback: feedback, classCount: classCount, hyperparameters: h)
    }

    /// Index of the first predictor stage.
    private var firstPredictorStage: Int { blockKind == .dfa ? 1 : 0 }

    public var stages: [Stage] {
        (blockKind == .dfa ? [Stage(name: "blocks")] : [])
            + predictors.indices.map { Stage(name: "predictor\($0 + 1)", epochLimit: loss == .mse ? 1 : nil) }
    }

    public func parameters(of stage: Int) -> [Parameter] {
        if stage < firstPredictorStage { return blocks.flatMap(\.parameters) + (auxiliary?.parameters ?? []) }
        return predictors[stage - firstPredictorStage].parameters
    }

    // MARK: Block features, computed once per split and block

    /// The predictor stages train and validate on the block's cached features; the block
    /// pre-training stage uses the images.
    public func stageData(_ stage: Int, from data: DataSplits) -> (train: Dataset, validation: Dataset)? {
        guard stage >= firstPredictorStage else { return nil }
        let block = stage - firstPredictorStage
        var previousTrain: Tensor, previousValidation: Tensor
        if block == 0 {
            (previousTrain, previousValidation) = (data.train.inputs, data.validation.inputs)
        } else {
            precondition(cachedBlock == block - 1, "CaFo: stage of block \(block + 1) before block \(block)")
            (previousTrain, previousValidation) = (trainFeatures!, stripEnsemble(validationFeatures!, block: block - 1))
        }
        // The finished predictor's outputs join the ensemble carried by the validation rows.
        let ensemble = block == 0
            ? Tensor(zeros: [data.validation.count, classCount])
            : ensembleColumns(validationFeatures!, block: block - 1, adding: predictors[block - 1])
        // NOTE: training first (it sets the BatchNorm statistics the other splits use); each
        // input is released as soon as its split's next features exist.
        trainFeatures = nil
        validationFeatures = nil
        let train = trainBlockFeatures(block, input: previousTrain)
        previousTrain = Tensor(zeros: [0])
        let validation = appendColumns(blockFeatures(block, input: previousValidation), ensemble)
        previousValidation = Tensor(zeros: [0])
        trainFeatures = train
        validationFeatures = validation
        trainLabels = data.train.labels
        cachedBlock = block
        var trainSet = Dataset(inputs: train, labels: data.train.labels, sampleShape: [featureSizes[block]], classCount: classCount)
        trainSet.augmentation = nil
        let validationSet = Dataset(inputs: validation, labels: data.validation.labels,
                                    sampleShape: [featureSizes[block] + classCount], classCount: classCount)
        return (trainSet, validationSet)
    }

    /// Block `b` on the training split, its BatchNorm normalising with the statistics of these
    /// training features (never those of another split), or with the initial ones.
    func trainBlockFeatures(_ b: Int, input: Tensor) -> Tensor {
        let layers = blocks[b].layers
        let batchNorm = layers.last as! BatchNorm2D
        let body = Sequential(Array(layers.dropLast()))
        var features = forwardInChunks(b, input: input, through: body)
        switch batchNormStatistics {
        case .train:
            let statistics = BatchNorm2D.statistics(of: features, channels: batchNorm.channels)
            batchNorm.setStatistics(mean: statistics.mean.map(Float.init), variance: statistics.variance.map(Float.init))
        case .initial:
            // PyTorch's momentum 0.1 update of (0, 1) by a batch of zeros: (0, 0.9·1 + 0.1·0).
            batchNorm.setStatistics(mean: Array(repeating: 0, count: batchNorm.channels), variance: Array(repeating: 0.9, count: batchNorm.channels))
        }
        // Normalise in place, chunk by chunk.
        let n = features.rows, d = featureSizes[b]
        for start in stride(from: 0, to: n, by: chunk) {
            let rows = min(chunk, n - start)
            copyRows(features, start, rows, into: &scratch, shape: [rows] + outputShapes[b])
            let normalized = batchNorm.forward(scratch, mode: .inference)
            features.withUnsafeMutablePointer { dst in
                normalized.withUnsafePointer { (dst + start * d).update(from: $0, count: rows * d) }
            }
        }
        return features
    }

    /// Block `b` (inference mode) over all rows of `input`, a chunk at a time. Shapes: N×D_{b−1} → N×D_b.
    func blockFeatures(_ b: Int, input: Tensor) -> Tensor { forwardInChunks(b, input: input, through: blocks[b]) }

    private func forwardInChunks(_ b: Int, input: Tensor, through layer: any Layer) -> Tensor {
        let n = input.rows, d = featureSizes[b]
        var features = Tensor(uninitialized: [n, d])
        for start in stride(from: 0, to: n, by: chunk) {
            let rows = min(chunk, n - start)
            copyRows(input, start, rows, into: &scratch, shape: [rows] + (b == 0 ? [input.columns] : outputShapes[b - 1]))
            let out = layer.forward(scratch, mode: .inference)
            features.withUnsafeMutablePointer { dst in
                out.withUnsafePointer { (dst + start * d).update(from: $0, count: rows * d) }
            }
        }
        blockForwardSamples[b] += n
        return features
    }

    private func copyRows(_ source: Tensor, _ start: Int, _ rows: Int, into target: inout Tensor, shape: [Int]) {
        let d = source.columns
        target.resize(to: shape)
        source.withUnsafePointer { src in
            target.withUnsafeMutablePointer { $0.update(from: src + start * d, count: rows * d) }
        }
    }

    /// [features | ensemble]. Shapes: N×D, N×C → N×(D + C).
    private func appendColumns(_ features: Tensor, _ ensemble: Tensor) -> Tensor {
        let (n, d, c) = (features.rows, features.columns, classCount)
        var result = Tensor(uninitialized: [n, d + c])
        features.withUnsafePointer { f in
            ensemble.withUnsafePointer { e in
                result.withUnsafeMutablePointer { r in
                    for row in 0..<n {
                        (r + row * (d + c)).update(from: f + row * d, count: d)
                        (r + row * (d + c) + d).update(from: e + row * c, count: c)
                    }
                }
            }
        }
        return result
    }

    /// The feature part of validation rows. Shapes: N×(D_b + C) → N×D_b.
    private func stripEnsemble(_ rows: Tensor, block: Int) -> Tensor {
        var result = Tensor(zeros: [0])
        stripEnsemble(rows, block: block, into: &result)
        return result
    }

    private func stripEnsemble(_ rows: Tensor, block: Int, into result: inout Tensor) {
        let (n, d, c) = (rows.rows, featureSizes[block], classCount)
        result.resize(to: [n, d])
        rows.withUnsafePointer { src in
            result.withUnsafeMutablePointer { dst in
                for row in 0..<n { (dst + row * d).update(from: src + row * (d + c), count: d) }
            }
        }
    }

    /// The ensemble columns of validation rows plus `predictor`'s output on their features.
    private func ensembleColumns(_ rows: Tensor, block: Int, adding predictor: Linear) -> Tensor {
        let (n, d, c) = (rows.rows, featureSizes[block], classCount)
        var ensemble = Tensor(uninitialized: [n, c])
        let features = stripEnsemble(rows, block: block)
        for start in stride(from: 0, to: n, by: chunk) {
            let count = min(chunk, n - start)
            copyRows(features, start, count, into: &scratch, shape: [count, d])
            let outputs = output(predictor.forward(scratch, mode: .inference))
            rows.withUnsafePointer { src in
                outputs.withUnsafePointer { o in
                    ensemble.withUnsafeMutablePointer { e in
                        for row in 0..<count {
                            for j in 0..<c { e[(start + row) * c + j] = src[(start + row) * (d + c) + d + j] + o[row * c + j] }
                        }
                    }
                }
            }
        }
        return ensemble
    }

    // MARK: Training

    public func epochWillStart(_ epoch: Int, maxEpochs: Int, stage: Int) {
        guard stage >= firstPredictorStage, loss == .mse, epoch == 1 else { return }
        fitClosedForm(predictors[stage - firstPredictorStage], features: trainFeatures!, labels: trainLabels)
        closedFormMethods[stage - firstPredictorStage] = lastClosedFormMethod
    }

    /// The labels of the training rows the features were computed for.
    private var trainLabels: [Int32] = []

    public func trainBatch(_ batch: Batch, stage: Int) -> Float {
        if stage < firstPredictorStage { return trainBlocksWithDFA(batch) }
        let predictor = predictors[stage - firstPredictorStage]
        if loss == .mse {
            // Fitted in closed form at the start of the stage: nothing to train, report the loss.
            let logits = predictor.forward(batch.inputs, mode: .inference)
            return Float(Self.squaredError(logits, batch.labels) / Double(batch.labels.count))
        }
        let logits = predictor.forward(batch.inputs, mode: .training)
        let (value, gradient) = loss == .ce
            ? (crossEntropy.lossAndGradient(logits: logits, labels: batch.labels).loss, crossEntropy.gradient)
            : (sparsemax.lossAndGradient(logits: logits, labels: batch.labels).loss, sparsemax.gradient)
        _ = predictor.backward(gradient, inputGradient: .notNeeded)
        if solver == .adam {
            predictorOptimizer.step(predictor.parameters)
        } else {
            fullBatchSteps += 1   // the step is taken at the end of the epoch
        }
        return value
    }

    /// The official full-batch step: W ← W − step·∇, ∇ the mean of the epoch's batch gradients.
    public func epochDidEnd(_ epoch: Int, stage: Int) {
        guard stage >= firstPredictorStage, solver == .fullBatch, loss != .mse, fullBatchSteps > 0 else { return }
        let predictor = predictors[stage - firstPredictorStage]
        let (scale, count) = (step / Float(fullBatchSteps), predictor.weight.value.count)
        predictor.weight.value.withUnsafeMutablePointer { w in
            predictor.weight.gradient.withUnsafePointer { g in
                for i in 0..<count { w[i] -= scale * g[i] }
            }
        }
        predictor.parameters.forEach { $0.zeroGradient() }
        fullBatchSteps = 0
    }

    /// One DFA step on the blocks (spec §2.7): the auxiliary head and the last block get the
    /// true CE gradient; every earlier block gets `e·B_b` at its output, back-propagated inside
    /// the block only.
    func trainBlocksWithDFA(_ batch: Batch) -> Float {
        guard let auxiliary, let blockOptimizer else { preconditionFailure("DFA stage without its head") }
        var h = batch.inputs
        for block in blocks { h = block.forward(h, mode: .training) }
        let n = batch.labels.count
        let (value, _) = crossEntropy.lossAndGradient(logits: auxiliary.forward(h.reshaped([n, featureSizes.last!]), mode: .training),
                                                      labels: batch.labels)
        let e = crossEntropy.gradient   // (softmax − Y)/N
        let top = auxiliary.backward(e, inputGradient: .needed)!
        _ = blocks.last!.backward(top.reshaped([n] + outputShapes.last!), inputGradient: .notNeeded)
        for (b, matrix) in feedback.enumerated() {
            Tensor.matmul(e, .none, matrix, .none, into: &signal)   // δF_b = e·B_b   (N×C · C×D_b)
            _ = blocks[b].backward(signal.reshaped([n] + outputShapes[b]), inputGradient: .notNeeded)
        }
        blockOptimizer.step(parameters(of: 0))
        return value
    }

    /// Fits W by least squares on one-hot targets from the normal equations, accumulated a
    /// chunk at a time (XᵀX and YᵀX); the bias stays 0 as in the official code.
    func fitClosedForm(_ predictor: Linear, features: Tensor, labels: [Int32]) {
        let (n, d, c) = (features.rows, features.columns, predictor.outputSize)
        var gram = Tensor(zeros: [d, d]), cross = Tensor(zeros: [c, d])
        var targets = Tensor(zeros: [0])
        for start in stride(from: 0, to: n, by: chunk) {
            let rows = min(chunk, n - start)
            copyRows(features, start, rows, into: &scratch, shape: [rows, d])
            targets.resize(to: [rows, c])
            targets.fill(0)
            targets.withUnsafeMutablePointer { t in for row in 0..<rows { t[row * c + Int(labels[start + row])] = 1 } }
            Tensor.matmul(scratch, .transposed, scratch, .none, into: &gram, beta: 1)    // XᵀX += Xcᵀ·Xc
            Tensor.matmul(targets, .transposed, scratch, .none, into: &cross, beta: 1)   // YᵀX += Ycᵀ·Xc
        }
        let (weight, method) = NormalEquations.solve(gram: gram, crossTransposed: cross)
        predictor.weight.value = weight
        predictor.bias?.value.fill(0)
        lastClosedFormMethod = method
    }

    /// How the last closed-form fit was solved.
    public private(set) var lastClosedFormMethod: NormalEquations.Method?
    /// How each closed-form predictor was solved, by predictor.
    private var closedFormMethods: [Int: NormalEquations.Method] = [:]

    public func stageNote(_ stage: Int) -> String? {
        guard stage >= firstPredictorStage, let method = closedFormMethods[stage - firstPredictorStage] else { return nil }
        return method == .cholesky ? "closed form by Cholesky" : "closed form by pseudo-inverse (XᵀX not positive definite)"
    }

    static func squaredError(_ z: Tensor, _ labels: [Int32]) -> Double {
        let c = z.columns
        var sum = 0.0
        z.withUnsafePointer { p in
            for row in 0..<z.rows {
                for j in 0..<c {
                    let diff = Double(p[row * c + j]) - (j == Int(labels[row]) ? 1 : 0)
                    sum += diff * diff
                }
            }
        }
        return sum
    }

    // MARK: Evaluation

    /// A predictor's contribution to the ensemble: its logits, or its probabilities
    /// (softmax, sparsemax for the SL loss).
    private func output(_ logits: Tensor) -> Tensor {
        guard inference == .probabilities else { return logits }
        let (n, c) = (logits.rows, logits.columns)
        outputScratch.resize(to: logits.shape)
        logits.withUnsafePointer { z in
            outputScratch.withUnsafeMutablePointer { p in
                for row in 0..<n {
                    if loss == .sl {
                        SparsemaxLoss.sparsemax(z + row * c, count: c, into: p + row * c, scratch: &sortScratch)
                    } else {
                        let r = z + row * c
                        var maximum = r[0]
                        for j in 1..<c { maximum = max(maximum, r[j]) }
                        var sum: Float = 0
                        for j in 0..<c { p[row * c + j] = expf(r[j] - maximum); sum += p[row * c + j] }
                        for j in 0..<c { p[row * c + j] /= sum }
                    }
                }
            }
        }
        return outputScratch
    }

    /// The stage's own loss (summed), and the accuracy of the ensemble so far (the earlier
    /// predictors' outputs ride along in the last C columns of each validation row).
    public func validate(_ batch: Batch, stage: Int) -> EvaluationSums {
        if stage < firstPredictorStage {
            var h = batch.inputs
            for block in blocks { h = block.forward(h, mode: .inference) }
            let logits = auxiliary!.forward(h.reshaped([batch.labels.count, featureSizes.last!]), mode: .inference)
            let result = SoftmaxCrossEntropy.evaluate(logits: logits, labels: batch.labels)
            return EvaluationSums(lossSum: result.lossSum, correct: result.correct)
        }
        let block = stage - firstPredictorStage
        let (n, d, c) = (batch.labels.count, featureSizes[block], classCount)
        stripEnsemble(batch.inputs, block: block, into: &validationScratch)
        let logits = predictors[block].forward(validationScratch, mode: .inference)
        let lossSum: Double = switch loss {
        case .ce: SoftmaxCrossEntropy.evaluate(logits: logits, labels: batch.labels).lossSum
        case .sl: sparsemax.evaluate(logits: logits, labels: batch.labels).lossSum
        case .mse: Self.squaredError(logits, batch.labels)
        }
        let contribution = output(logits)
        var correct = 0
        batch.inputs.withUnsafePointer { rows in
            contribution.withUnsafePointer { o in
                for row in 0..<n {
                    var best = 0, bestValue = -Float.infinity
                    for j in 0..<c {
                        let value = rows[row * (d + c) + d + j] + o[row * c + j]
                        if value > bestValue { (best, bestValue) = (j, value) }
                    }
                    if best == Int(batch.labels[row]) { correct += 1 }
                }
            }
        }
        return EvaluationSums(lossSum: lossSum, correct: correct)
    }

    /// Every block once on the batch, every predictor on its block's output, outputs summed.
    public func countCorrect(_ batch: Batch) -> Int {
        let n = batch.labels.count
        var h = batch.inputs
        if ensembleScratch.count != n * classCount { ensembleScratch = [Float](repeating: 0, count: n * classCount) }
        for i in ensembleScratch.indices { ensembleScratch[i] = 0 }
        for (b, block) in blocks.enumerated() {
            h = block.forward(h, mode: .inference)
            blockForwardSamples[b] += n
            let contribution = output(predictors[b].forward(h.reshaped([n, featureSizes[b]]), mode: .inference))
            contribution.withUnsafePointer { o in for i in ensembleScratch.indices { ensembleScratch[i] += o[i] } }
        }
        var correct = 0
        for row in 0..<n {
            var best = 0
            for j in 1..<classCount where ensembleScratch[row * classCount + j] > ensembleScratch[row * classCount + best] { best = j }
            if best == Int(batch.labels[row]) { correct += 1 }
        }
        return correct
    }
}
