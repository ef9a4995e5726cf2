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

    public static func inferenceRule(_ h: Hyperparameters) -> String {
        "argmax of Σ over blocks of predictor_b(flattened block_b output) as "
            + (h.choice("inference", as: Inference.self) == .logits ? "logits" : "softmax probabilities")
    }
    /// The study's two CE variants on its CNN; the quick suite leaves out CaFo-DFA, whose block
    /// pre-training alone costs as much as BP on the CNN.
    public static let comparisons = [
        DeclaredComparison("cafo-rand-ce", on: "cnn-3block", datasets: ["mnist", "fashion-mnist", "cifar10", "cifar100"], quick: .init()),
        DeclaredComparison("cafo-dfa-ce", on: "cnn-3block", datasets: ["mnist", "fashion-mnist", "cifar10", "cifar100"]),
    ]
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
    private(set) var feedback: [Tensor]
    private let blockOptimizer: Adam?
    private let crossEntropy = SoftmaxCrossEntropy()
    private let sparsemax = SparsemaxLoss()

    /// The current block's cached features (training N×D_b, validation N×D_b) and the summed
    /// outputs of the earlier predictors on the validation rows (N×C): the stage's context.
    private var trainFeatures: Tensor?
    private var validationFeatures: Tensor?
    private(set) var validationEnsemble = Tensor(zeros: [0])
    private var ensembleScratch = Tensor(zeros: [0])
    private var cachedBlock = -1
    private var fullBatchSteps = 0
    private var signal = Tensor(zeros: [0])
    private var scratch = Tensor(zeros: [0])
    private var outputScratch = Tensor(zeros: [0])
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
        let maps = architecture.featureMaps(inputShape: inputShape)
        let predictors = sizes.enumerated().map { index, size in
            let predictor = Linear(inputSize: size, outputSize: classCount, name: "predictor\(index + 1)", using: &weights)
            predictor.inputMap = maps[index]
            return predictor
        }
        var auxiliary: Linear?, feedback: [Tensor] = []
        if kind == .dfa {
            auxiliary = Linear(inputSize: sizes.last!, outputSize: classCount, name: "auxiliary", using: &weights)
            auxiliary?.inputMap = maps.last
            var generator = SeededGenerator(seed: seed, stream: "feedback")
            for size in sizes.dropLast() {
                let b = Tensor(shape: [classCount, size], normalWithStandardDeviation: 1, using: &generator)
                var unitRows = Tensor(zeros: [0])
                b.normalizeRows(into: &unitRows, kind: .l2, epsilon: 0)   // a Gaussian row is never zero
                feedback.append(unitRows)
            }
        }
        return CascadedForward(blocks: blocks, outputShapes: maps.map { [$0.height, $0.width, $0.channels] }, predictors: predictors, auxiliary: auxiliary,
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

    public func state(of stage: Int) -> [StateTensor] {
        if stage < firstPredictorStage { return blocks.flatMap(\.state) + (auxiliary?.state ?? []) }
        return predictors[stage - firstPredictorStage].state
    }

    /// The blocks (random ones included, with their batch-norm statistics), the predictors and
    /// the auxiliary head of DFA blocks.
    public var modelState: [StateTensor] {
        blocks.flatMap(\.state) + predictors.flatMap(\.state) + (auxiliary?.state ?? [])
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
            validationEnsemble = Tensor(zeros: [data.validation.count, classCount], on: data.validation.inputs.backend)
        } else {
            precondition(cachedBlock == block - 1, "CaFo: stage of block \(block + 1) before block \(block)")
            (previousTrain, previousValidation) = (trainFeatures!, validationFeatures!)
            // The finished predictor's outputs join the ensemble of the validation rows.
            addToEnsemble(predictors[block - 1], features: previousValidation)
        }
        // NOTE: training first (it sets the BatchNorm statistics the other splits use); each
        // input is released as soon as its split's next features exist.
        trainFeatures = nil
        validationFeatures = nil
        let train = trainBlockFeatures(block, input: previousTrain)
        previousTrain = Tensor(zeros: [0])
        let validation = blockFeatures(block, input: previousValidation)
        previousValidation = Tensor(zeros: [0])
        trainFeatures = train
        validationFeatures = validation
        trainLabels = data.train.labels
        cachedBlock = block
        var trainSet = Dataset(inputs: train, labels: data.train.labels, sampleShape: [featureSizes[block]], classCount: classCount)
        trainSet.augmentation = nil
        let validationSet = Dataset(inputs: validation, labels: data.validation.labels,
                                    sampleShape: [featureSizes[block]], classCount: classCount)
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
            batchNorm.setStatistics(of: features)
        case .initial:
            // PyTorch's momentum 0.1 update of (0, 1) by a batch of zeros: (0, 0.9·1 + 0.1·0).
            batchNorm.setStatistics(mean: Array(repeating: 0, count: batchNorm.channels), variance: Array(repeating: 0.9, count: batchNorm.channels))
        }
        // Normalise in place, chunk by chunk.
        for start in stride(from: 0, to: features.rows, by: chunk) {
            scratch.assignRows(start..<min(start + chunk, features.rows), of: features, rowShape: outputShapes[b])
            features.setRows(startingAt: start, to: batchNorm.forward(scratch, mode: .inference))
        }
        return features
    }

    /// Block `b` (inference mode) over all rows of `input`, a chunk at a time. Shapes: N×D_{b−1} → N×D_b.
    func blockFeatures(_ b: Int, input: Tensor) -> Tensor { forwardInChunks(b, input: input, through: blocks[b]) }

    private func forwardInChunks(_ b: Int, input: Tensor, through layer: any Layer) -> Tensor {
        let n = input.rows
        var features = Tensor(uninitialized: [n, featureSizes[b]], on: input.backend)
        for start in stride(from: 0, to: n, by: chunk) {
            scratch.assignRows(start..<min(start + chunk, n), of: input, rowShape: b == 0 ? nil : outputShapes[b - 1])
            features.setRows(startingAt: start, to: layer.forward(scratch, mode: .inference))
        }
        blockForwardSamples[b] += n
        return features
    }

    /// Adds `predictor`'s outputs on the validation features to the ensemble, a chunk at a time.
    /// Shapes: features N×D_b, ensemble N×C.
    private func addToEnsemble(_ predictor: Linear, features: Tensor) {
        for start in stride(from: 0, to: features.rows, by: chunk) {
            scratch.assignRows(start..<min(start + chunk, features.rows), of: features)
            validationEnsemble.addToRows(startingAt: start, output(predictor.forward(scratch, mode: .inference)))
        }
    }

    // MARK: Training

    public func epochWillStart(_ epoch: Int, maxEpochs: Int, stage: Int) {
        guard stage >= firstPredictorStage, loss == .mse, epoch == 1 else { return }
        fitClosedForm(predictors[stage - firstPredictorStage], features: trainFeatures!, labels: trainLabels)
        closedFormMethods[stage - firstPredictorStage] = lastClosedFormMethod
    }

    /// The labels of the training rows the features were computed for.
    private var trainLabels: [Int32] = []

    public func trainBatch(_ batch: Batch, stage: Int, loss total: LossSum) {
        if stage < firstPredictorStage { return trainBlocksWithDFA(batch, loss: total) }
        let predictor = predictors[stage - firstPredictorStage]
        if loss == .mse {
            // Fitted in closed form at the start of the stage: nothing to train, report the loss.
            let logits = predictor.forward(batch.inputs, mode: .inference)
            return SquaredError.sum(logits: logits, of: batch, adding: 1 / Double(batch.labels.count), to: total)
        }
        let logits = predictor.forward(batch.inputs, mode: .training)
        if loss == .ce {
            crossEntropy.lossAndGradient(logits: logits, of: batch, addingMeanTo: total)
        } else {
            sparsemax.lossAndGradient(logits: logits, of: batch, addingMeanTo: total)
        }
        _ = predictor.backward(loss == .ce ? crossEntropy.gradient : sparsemax.gradient, inputGradient: .notNeeded)
        if solver == .adam {
            predictorOptimizer.step(predictor.parameters)
        } else {
            fullBatchSteps += 1   // the step is taken at the end of the epoch
        }
    }

    /// The official full-batch step: W ← W − step·∇, ∇ the mean of the epoch's batch gradients.
    public func epochDidEnd(_ epoch: Int, stage: Int) {
        guard stage >= firstPredictorStage, solver == .fullBatch, loss != .mse, fullBatchSteps > 0 else { return }
        let predictor = predictors[stage - firstPredictorStage]
        predictor.weight.value.add(predictor.weight.gradient, scaledBy: -step / Float(fullBatchSteps))
        predictor.parameters.forEach { $0.zeroGradient() }
        fullBatchSteps = 0
    }

    /// One DFA step on the blocks (spec §2.7): the auxiliary head and the last block get the
    /// true CE gradient; every earlier block gets `e·B_b` at its output, back-propagated inside
    /// the block only.
    func trainBlocksWithDFA(_ batch: Batch, loss total: LossSum) {
        guard let auxiliary, let blockOptimizer else { preconditionFailure("DFA stage without its head") }
        var h = batch.inputs
        for block in blocks { h = block.forward(h, mode: .training) }
        let n = batch.labels.count
        crossEntropy.lossAndGradient(logits: auxiliary.forward(h.reshaped([n, featureSizes.last!]), mode: .training),
                                     of: batch, addingMeanTo: total)
        let e = crossEntropy.gradient   // (softmax − Y)/N
        let top = auxiliary.backward(e, inputGradient: .needed)!
        _ = blocks.last!.backward(top.reshaped([n] + outputShapes.last!), inputGradient: .notNeeded)
        for (b, matrix) in feedback.enumerated() {
            Tensor.matmul(e, .none, matrix, .none, into: &signal)   // δF_b = e·B_b   (N×C · C×D_b)
            _ = blocks[b].backward(signal.reshaped([n] + outputShapes[b]), inputGradient: .notNeeded)
        }
        blockOptimizer.step(parameters(of: 0))
    }

    /// Fits W by least squares on one-hot targets from the normal equations, accumulated a
    /// chunk at a time (XᵀX and YᵀX); the bias stays 0 as in the official code.
    func fitClosedForm(_ predictor: Linear, features: Tensor, labels: [Int32]) {
        let (n, d, c) = (features.rows, features.columns, predictor.outputSize)
        let device = features.backend
        var gram = Tensor(zeros: [d, d], on: device), cross = Tensor(zeros: [c, d], on: device)
        var targets = Tensor(zeros: [0])
        for start in stride(from: 0, to: n, by: chunk) {
            let rows = start..<min(start + chunk, n)
            scratch.assignRows(rows, of: features)
            targets.assignOneHot(labels[rows], classCount: c)   // on the host, copied over below when on a device
            Tensor.matmul(scratch, .transposed, scratch, .none, into: &gram, beta: 1)                        // XᵀX += Xcᵀ·Xc
            Tensor.matmul(targets.moved(to: device), .transposed, scratch, .none, into: &cross, beta: 1)   // YᵀX += Ycᵀ·Xc
        }
        // Solved on the CPU (LAPACK), the products summed where the features are.
        let (weight, method) = NormalEquations.solve(gram: gram.moved(to: nil), crossTransposed: cross.moved(to: nil))
        predictor.weight.value = weight.moved(to: device)
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

    // MARK: Evaluation

    /// A predictor's contribution to the ensemble: its logits, or its probabilities
    /// (softmax, sparsemax for the SL loss).
    private func output(_ logits: Tensor) -> Tensor {
        guard inference == .probabilities else { return logits }
        if loss == .sl {
            sparsemax.sparsemaxRows(logits, into: &outputScratch)
        } else {
            logits.softmaxRows(into: &outputScratch)
        }
        return outputScratch
    }

    /// The stage's own loss (summed), and the accuracy of the ensemble so far: the earlier
    /// predictors' outputs on the batch's rows (from the stage's context) plus this one's.
    public func validate(_ batch: Batch, stage: Int, into sums: EvaluationSums) {
        if stage < firstPredictorStage {
            var h = batch.inputs
            for block in blocks { h = block.forward(h, mode: .inference) }
            let logits = auxiliary!.forward(h.reshaped([batch.labels.count, featureSizes.last!]), mode: .inference)
            return SoftmaxCrossEntropy.evaluate(logits: logits, of: batch, into: sums)
        }
        let logits = predictors[stage - firstPredictorStage].forward(batch.inputs, mode: .inference)
        switch loss {
        case .ce: SoftmaxCrossEntropy.evaluate(logits: logits, of: batch, addingLossTo: sums.loss, countingInto: nil)
        case .sl: sparsemax.evaluate(logits: logits, of: batch, addingLossTo: sums.loss)
        case .mse: SquaredError.sum(logits: logits, of: batch, adding: 1, to: sums.loss)
        }
        if logits.backend == nil {
            ensembleScratch.gatherRows(batch.samples, of: validationEnsemble)
        } else {
            // NOTE: validation batches are the split in order, so a batch's ensemble rows are one range.
            let first = batch.samples.first ?? 0
            precondition(batch.samples.elementsEqual(first..<(first + batch.samples.count)), "CaFo: validation rows out of order on a device")
            ensembleScratch.assignRows(first..<(first + batch.samples.count), of: validationEnsemble)
        }
        ensembleScratch.add(output(logits))
        ensembleScratch.countArgmaxMatches(of: batch, into: sums)
    }

    /// Every block once on the batch, every predictor on its block's output, outputs summed.
    public func countCorrect(_ batch: Batch) -> Int {
        let n = batch.labels.count
        var h = batch.inputs
        ensembleScratch.resize(to: [n, classCount], on: batch.inputs.backend)
        ensembleScratch.fill(0)
        for (b, block) in blocks.enumerated() {
            h = block.forward(h, mode: .inference)
            blockForwardSamples[b] += n
            ensembleScratch.add(output(predictors[b].forward(h.reshaped([n, featureSizes[b]]), mode: .inference)))
        }
        return ensembleScratch.countArgmaxMatches(of: batch)
    }

    /// Every block's, predictor's and the auxiliary head's state and parameters, and the DFA
    /// feedback matrices.
    public func move(to backend: (any DeviceBackend)?) {
        moveParametersAndState(to: backend)
        feedback = feedback.map { $0.moved(to: backend) }
    }
}
