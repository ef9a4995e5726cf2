import Datasets
import Foundation
import NeuralNetwork
import TensorCore
import Training

/// Forward-Forward: each layer learns to give positive data (the true label embedded) high
/// goodness and negative data (a wrong label embedded) low goodness, from a local loss on a
/// normalised, detached input.
/// - Paper: Hinton, "The Forward-Forward Algorithm: Some Preliminary Investigations", arXiv 2212.13345, 2022.
public final class ForwardForward: RegisteredAlgorithm {
    public enum Negatives: String, Sendable {
        /// Uniform over the wrong classes.
        case uniform
        /// Sampled from softmax(goodness) over the wrong classes of the current model.
        case hard
    }

    public enum Schedule: String, Sendable {
        /// Every layer is updated on every minibatch (one stage).
        case simultaneous
        /// Layer by layer, each its own stage with its own stop.
        case greedy
    }

    public enum Inference: String, Sendable {
        /// Goodness summed over hidden layers 2..L for each candidate label.
        case goodness
        /// Goodness summed over all hidden layers.
        case goodnessAllLayers = "goodness-all"
        /// A softmax readout on the normalised activities of layers ≥ 2 under a neutral label,
        /// trained concurrently on detached features.
        case readout
    }

    public enum ReadoutTraining: String, Sendable {
        /// Only when it predicts (`inference=readout`).
        case ifUsed = "if-used"
        /// Always, as the study's code did (its cost counts; the goodness still predicts).
        case always
    }

    public enum OptimizerKind: String, Sendable {
        case adamw
        /// SGD with momentum 0.9.
        case sgd
    }

    public enum Cooldown: String, Sendable {
        case none
        /// Linear decay over the second half of the epoch cap: `lr·2(1 + E − e)/E` for e > E/2.
        case linear
    }

    public static let id = "ff"

    public static func inferenceRule(_ h: Hyperparameters) -> String {
        switch h.choice("inference", as: Inference.self) {
        case .readout:
            "argmax of readout logits on the normalised activities of layers ≥ 2, the input's first C pixels set to the neutral label label_value/C"
        case .goodness, .goodnessAllLayers:
            "for each class c: the input's first C pixels set to label_value·onehot(c), each layer's input normalised (normalization), "
                + "goodness summed over \(h.choice("inference", as: Inference.self) == .goodness ? "layers ≥ 2" : "all layers"); argmax over c"
        }
    }
    /// The study's comparisons. FF learns too slowly for the quick suite's 3 epochs (chance, 12 %,
    /// after 3 epochs of 4x2000): there it runs on mlp-4x500 with batches of 20 and 8 epochs, its
    /// BP baseline alike.
    public static let comparisons = [
        DeclaredComparison("ff", on: "mlp-4x2000", datasets: ["fashion-mnist", "mnist"],
                           quick: .init(architecture: "mlp-4x500", epochs: 8, batchSize: 20)),
        DeclaredComparison("ff", on: "mlp-3x1000", datasets: ["mnist"]),
    ]
    /// Defaults: the "Decisions for bpfree" of the spec (loeweX-style FF with AdamW), including
    /// the linear cool-down over the second half of the epoch cap that loeweX always applies.
    public static let hyperparameterSpecs: [HyperparameterSpec] = [
        .real("learning_rate", 1e-3, "layer learning rate").searched(logUniformIn: 2e-4...5e-3),
        .real("weight_decay", 3e-4, "layer weight decay (decoupled for AdamW, L2 for SGD)").searched(logUniformIn: 1e-4...1e-3),
        // Tuned only when the readout predicts: otherwise no measured figure depends on them.
        .real("readout_learning_rate", 1e-2, "softmax readout learning rate")
            .searched(logUniformIn: 2e-3...5e-2, when: "inference", is: "readout"),
        .real("readout_weight_decay", 3e-3, "softmax readout weight decay")
            .searched(logUniformIn: 1e-3...1e-2, when: "inference", is: "readout"),
        .integer("batch_size", 100, "training batch size"),
        .choice("normalization", "rms", of: ["rms", "l2"], "per-row normalisation of every layer input"),
        .choice("goodness", "sum", of: ["sum", "mean"], "goodness: sum or mean of squared activities"),
        .keywordOrReal("threshold", "width", in: 0...1e9, "θ: the layer width, or a fixed number"),
        .real("peer_normalization", 0.03, "weight of peer normalisation (0 turns it off)"),
        .real("peer_momentum", 0.9, in: 0...0.999_999, "momentum of the running mean activities"),
        .choice("negatives", "uniform", of: ["uniform", "hard"], "negative labels: uniform wrong class or sampled from the model"),
        .choice("schedule", "simultaneous", of: ["simultaneous", "greedy"], "all layers per batch, or layer by layer"),
        .choice("inference", "goodness", of: ["goodness", "goodness-all", "readout"], "how the finished network predicts"),
        .choice("optimizer", "adamw", of: ["adamw", "sgd"], "AdamW, or SGD with momentum 0.9"),
        .choice("cooldown", "linear", of: ["none", "linear"], "linear LR cool-down over the second half of the epoch cap"),
        .real("label_value", 1, "value of the embedded one-hot label"),
        .real("epsilon", 1e-8, "ε of the normalisation, added outside the square root"),
        .choice("init", "pytorch", of: ["pytorch", "study"], "initial weights: PyTorch's U(±1/√fan_in), or the study's N(0, 1/fan_out); biases 0"),
        .choice("train_readout", "if-used", of: ["if-used", "always"],
                "train the softmax readout only for inference=readout, or always (the study's code trains it in the window and predicts by goodness)"),
    ]

    /// The study's FF (`src/algorithms/ff.py`, `configs/ff`): stopped on validation accuracy in
    /// *percent* with `min_delta` 0.01, i.e. 0.0001 on bpfree's 0–1 scale (patience 20, 100
    /// epochs), testing the weights of the best validation accuracy; its tuned AdamW rates; its
    /// initialisation (`N(0, 1/fan_out)`); its downstream classifier trained inside the window
    /// though the goodness predicts.
    public static func seedPaper(dataset: String, architecture: Architecture, options: [String: String], cap: Int) -> SeedPaper? {
        let tuned: [String: [String: Double]] = [
            "fmnist/mlp-4x2000": ["learning_rate": 3.722230492626773e-4, "weight_decay": 3.583569744251919e-4,
                                  "readout_learning_rate": 1.1120232890144957e-2, "readout_weight_decay": 5.1200359925764015e-3],
            "mnist/mlp-4x2000": ["learning_rate": 5.253511034001832e-4, "weight_decay": 4.227844165066995e-4,
                                 "readout_learning_rate": 2.7075510107757122e-3, "readout_weight_decay": 3.5730744916099627e-3],
            "mnist/mlp-3x1000": ["learning_rate": 4.759134394296565e-4, "weight_decay": 4.169096909947932e-4,
                                 "readout_learning_rate": 1.0727571797342173e-2, "readout_weight_decay": 6.1527185182837065e-3],
        ]
        var defaults = (tuned["\(dataset)/\(architecture)"] ?? [:]).reduce(into: [String: String]()) { $0["ff." + $1.key] = "\($1.value)" }
        defaults["ff.init"] = Initialisation.study.rawValue
        if case .mlp(let widths) = architecture, widths.count >= 2 { defaults["ff.train_readout"] = ReadoutTraining.always.rawValue }
        return SeedPaper(stopping: StoppingRule(patience: 20, minDelta: 1e-4, maxEpochs: min(cap, 100), monitor: .validationAccuracy),
                         restore: .bestValidationAccuracy, defaults: defaults)
    }
    public static let defaultArchitecture = Architecture.mlp(hiddenWidths: [2000, 2000, 2000, 2000])
    public static let defaultCIFARArchitecture = Architecture.mlp(hiddenWidths: [2000, 2000, 2000, 2000])

    /// One FF layer: normalise the input, Linear, ReLU; its own peer-normalisation state.
    final class Unit {
        let linear: Linear
        let activation = ReLU()
        let threshold: Float
        var runningMean: Tensor
        var normalized = Tensor(zeros: [0])
        var gradient = Tensor(zeros: [0])

        init(linear: Linear, threshold: Float) {
            self.linear = linear
            self.threshold = threshold
            runningMean = Tensor(shape: [linear.outputSize], repeating: 0.5)
        }

        /// `H = ReLU(normalize(x)·Wᵀ + b)`. Shapes: N×in → N×d.
        func forward(_ x: Tensor, settings: Settings, mode: Mode) -> Tensor {
            x.normalizeRows(into: &normalized, kind: settings.normalization, epsilon: settings.epsilon)
            return activation.forward(linear.forward(normalized, mode: mode), mode: .inference)
        }
    }

    /// The resolved settings every unit reads.
    struct Settings {
        var normalization: RowNormalization
        var goodness: ForwardForwardLoss.Goodness
        var peerWeight: Float
        var peerMomentum: Float
        var labelValue: Float
        var epsilon: Float
        var negatives: Negatives
        var schedule: Schedule
        var inference: Inference
        var cooldown: Cooldown
    }

    let units: [Unit]
    let settings: Settings
    let classCount: Int
    let layerOptimizer: any Optimizer
    let readout: Linear?
    let readoutOptimizer: (any Optimizer)?
    let baseLearningRates: (layers: Float, readout: Float)
    private var negativeGenerator: SeededGenerator
    private var embedded = Tensor(zeros: [0])
    /// The last embedded rows (for tests).
    var embeddedForTesting: Tensor { embedded }
    /// A training batch's 2B labels, positives then negatives: on the host, or as floats on the
    /// device of its rows.
    private var labels: [Int32] = []
    private var pairLabels = Tensor(zeros: [0])
    private var features = Tensor(zeros: [0])
    private var normalizedScratch = Tensor(zeros: [0])
    /// Evaluation's buffers: the scores it returns, a chunk of its rows and their goodness.
    private var evaluationScores = Tensor(zeros: [0]), evaluationRows = Tensor(zeros: [0]), evaluationGoodness = Tensor(zeros: [0])
    private let readoutLoss = SoftmaxCrossEntropy()
    /// Where the readout's loss goes: it trains the readout, the run reports the layers' FF loss.
    private let unreportedLoss = LossSum()

    init(units: [Unit], settings: Settings, classCount: Int, layerOptimizer: any Optimizer, readout: Linear?,
         readoutOptimizer: (any Optimizer)?, seed: UInt64) {
        self.units = units
        self.settings = settings
        self.classCount = classCount
        self.layerOptimizer = layerOptimizer
        self.readout = readout
        self.readoutOptimizer = readoutOptimizer
        baseLearningRates = (layerOptimizer.learningRate, readoutOptimizer?.learningRate ?? 0)
        negativeGenerator = SeededGenerator(seed: seed, stream: "negatives")
    }

    public static func make(architecture: Architecture, inputShape: [Int], classCount: Int,
                            hyperparameters h: Hyperparameters, seed: UInt64) throws -> ForwardForward {
        let inputSize = inputShape.reduce(1, *)
        guard case .mlp(let widths) = architecture else {
            throw ConfigurationError(field: "--architecture", problem: "ff needs an MLP architecture")
        }
        guard inputSize >= classCount else {
            throw ConfigurationError(field: "--dataset", problem: "ff embeds the label in the first \(classCount) inputs, but samples have only \(inputSize)")
        }
        let settings = Settings(
            normalization: h.choice("normalization"), goodness: h.choice("goodness"),
            peerWeight: Float(h.real("peer_normalization")), peerMomentum: Float(h.real("peer_momentum")),
            labelValue: Float(h.real("label_value")), epsilon: Float(h.real("epsilon")),
            negatives: h.choice("negatives"), schedule: h.choice("schedule"), inference: h.choice("inference"),
            cooldown: h.choice("cooldown"))
        let trainsReadout = settings.inference == .readout || h.choice("train_readout", as: ReadoutTraining.self) == .always
        if trainsReadout, widths.count < 2 {
            throw ConfigurationError(field: "--set", problem: "ff's readout reads layers ≥ 2; the architecture has \(widths.count) hidden layer")
        }
        let initialisation: Initialisation = h.choice("init")
        var generator = SeededGenerator(seed: seed, stream: "weights")
        var units: [Unit] = []
        var fanIn = inputSize
        for (index, width) in widths.enumerated() {
            // Biases start at zero as in the study's FF model.
            let weights: WeightInit = initialisation == .study ? .normal(standardDeviation: 1 / Float(width).squareRoot()) : .pytorch
            let linear = Linear(weight: weights.weight([width, fanIn], fanIn: fanIn, using: &generator),
                                bias: Tensor(zeros: [width]), name: "layer\(index + 1)")
            let threshold = h.realUnlessKeyword("threshold").map(Float.init)
                ?? (settings.goodness == .sum ? Float(width) : 1)
            units.append(Unit(linear: linear, threshold: threshold))
            fanIn = width
        }
        let optimizerKind: OptimizerKind = h.choice("optimizer")
        func optimizer(_ lr: Double, _ wd: Double) -> any Optimizer {
            optimizerKind == .adamw
                ? AdamW(learningRate: Float(lr), weightDecay: Float(wd))
                : SGD(learningRate: Float(lr), momentum: 0.9, weightDecay: Float(wd))
        }
        var readout: Linear?
        if trainsReadout {
            let featureCount = widths.dropFirst().reduce(0, +)
            readout = Linear(weight: Tensor(zeros: [classCount, featureCount]), bias: nil, name: "readout")
        }
        return ForwardForward(
            units: units, settings: settings, classCount: classCount,
            layerOptimizer: optimizer(h.real("learning_rate"), h.real("weight_decay")), readout: readout,
            readoutOptimizer: readout == nil ? nil : optimizer(h.real("readout_learning_rate"), h.real("readout_weight_decay")),
            seed: seed)
    }

    public var stages: [Stage] {
        settings.schedule == .greedy ? units.indices.map { Stage(name: "layer\($0 + 1)") } : [Stage(name: "layers")]
    }

    /// The layers a stage trains: all (simultaneous) or one (greedy).
    func trainedUnits(_ stage: Int) -> ArraySlice<Unit> {
        settings.schedule == .greedy ? units[stage...stage] : units[...]
    }

    public func parameters(of stage: Int) -> [Parameter] {
        trainedUnits(stage).flatMap(\.linear.parameters) + (readout?.parameters ?? [])
    }

    public func epochWillStart(_ epoch: Int, maxEpochs: Int, stage: Int) {
        guard settings.cooldown == .linear else { return }
        let factor: Float = 2 * Float(epoch) > Float(maxEpochs) ? 2 * Float(1 + maxEpochs - epoch) / Float(maxEpochs) : 1
        layerOptimizer.learningRate = baseLearningRates.layers * min(factor, 1)
        readoutOptimizer?.learningRate = baseLearningRates.readout * min(factor, 1)
    }

    // MARK: Samples

    /// The labels `embed` writes into the rows.
    enum EmbeddedLabels {
        /// One per output row, on the host.
        case perRow([Int32])
        /// One per output row, as floats on the rows' device.
        case perRowOnDevice(Tensor)
        /// Block b of the `copies` blocks holds candidate label b (copies = C).
        case candidateByBlock
        /// The neutral `labelValue/C` in every label input.
        case neutral
    }

    /// Copies the rows of `x` into `embedded` `copies` times (block b holding x again),
    /// overwriting the first C inputs of each row with `labelValue · onehot(label)`.
    /// Shapes: x N×D → embedded (N·copies)×D.
    func embed(_ x: Tensor, labels: EmbeddedLabels, copies: Int) {
        embedded.assignRepeatedRows(of: x, copies: copies)
        switch labels {
        case .perRow(let rowLabels): embedded.setLeadingColumns(oneHot: rowLabels, classCount: classCount, value: settings.labelValue)
        case .perRowOnDevice(let rowLabels): embedded.setLeadingColumns(oneHot: rowLabels, classCount: classCount, value: settings.labelValue)
        case .candidateByBlock: embedded.setLeadingColumns(oneHotByBlockOf: x.rows, classCount: classCount, value: settings.labelValue)
        case .neutral: embedded.fillLeadingColumns(classCount, with: settings.labelValue / Float(classCount))
        }
    }

    // MARK: Training

    public func trainBatch(_ batch: Batch, stage: Int, loss: LossSum) {
        accumulateGradients(batch, stage: stage, loss: loss)
        layerOptimizer.step(trainedUnits(stage).flatMap(\.linear.parameters))
        if let readout, let readoutOptimizer { readoutOptimizer.step(readout.parameters) }
    }

    /// The gradients of the stage's layers (and the readout) accumulated, peer-normalisation means
    /// updated, and the mean FF loss of the batch's positive and negative rows added to `total`.
    func accumulateGradients(_ batch: Batch, stage: Int, loss total: LossSum) {
        // Each row's negative from draw `row` of one key per batch: on a device, drawn there.
        let key = negativeGenerator.next()
        let scores = settings.negatives == .hard ? goodnessScores(batch.inputs, layers: inferenceLayers(upTo: units.count - 1)) : nil
        if batch.inputs.backend != nil {
            WrongClassSampling.labelsAndWrongClasses(batch.deviceLabels, classCount: classCount, scores: scores, key: key, into: &pairLabels)
            trainLayers(batch, stage: stage, labels: .perRowOnDevice(pairLabels), loss: total)
        } else {
            labels.removeAll(keepingCapacity: true)
            labels.append(contentsOf: batch.labels)
            WrongClassSampling.appendWrongClasses(of: batch.labels, classCount: classCount, scores: scores, key: key, to: &labels)
            trainLayers(batch, stage: stage, labels: .perRow(labels), loss: total)
        }
        if let readout {
            let logits = readout.forward(neutralFeatures(batch.inputs), mode: .training)
            readoutLoss.lossAndGradient(logits: logits, of: batch, addingMeanTo: unreportedLoss)
            _ = readout.backward(readoutLoss.gradient, inputGradient: .notNeeded)
        }
    }

    /// The layers' half of a step: forward the stacked positive and negative rows, accumulate
    /// each trained layer's local gradient; adds the summed loss over the 2B rows, over 2B, to `total`.
    private func trainLayers(_ batch: Batch, stage: Int, labels: EmbeddedLabels, loss total: LossSum) {
        let b = batch.labels.count
        // Rows [0, B) positive, [B, 2B) negative.
        embed(batch.inputs, labels: labels, copies: 2)
        var h = embedded
        let trained = trainedUnits(stage)
        for (index, unit) in units.enumerated() where index <= trained.endIndex - 1 {
            guard index >= trained.startIndex else {
                h = unit.forward(h, settings: settings, mode: .inference)
                continue
            }
            h = unit.forward(h, settings: settings, mode: .training)
            ForwardForwardLoss.lossAndGradient(h, positives: b, threshold: unit.threshold, kind: settings.goodness,
                                               gradient: &unit.gradient, adding: 1 / Double(2 * b), to: total)
            if settings.peerWeight > 0 {
                _ = ForwardForwardLoss.peerNormalization(h, positives: b, runningMean: &unit.runningMean, weight: settings.peerWeight,
                                                      momentum: settings.peerMomentum, gradient: &unit.gradient)
            }
            // dW += (∂L/∂Z)ᵀ·X̂, db += Σ ∂L/∂Z; the normalised input is a constant.
            _ = unit.linear.backward(unit.gradient, inputGradient: .notNeeded)
        }
    }

    /// Normalised activities of layers ≥ 2 under the neutral label, concatenated.
    /// Shapes: x N×D → N×Σd_ℓ (ℓ ≥ 2).
    func neutralFeatures(_ x: Tensor) -> Tensor {
        embed(x, labels: .neutral, copies: 1)
        var h = embedded
        let n = x.rows
        let width = units.dropFirst().reduce(0) { $0 + $1.linear.outputSize }
        features.resize(to: [n, width], on: x.backend)
        var offset = 0
        for (index, unit) in units.enumerated() {
            h = unit.forward(h, settings: settings, mode: .inference)
            guard index >= 1 else { continue }
            h.normalizeRows(into: &normalizedScratch, kind: settings.normalization, epsilon: settings.epsilon)
            features.setColumns(startingAt: offset, to: normalizedScratch)
            offset += unit.linear.outputSize
        }
        return features
    }

    // MARK: Evaluation

    /// Layers whose goodness the inference sums, among the first `last + 1`.
    func inferenceLayers(upTo last: Int) -> ClosedRange<Int> {
        (settings.inference == .goodnessAllLayers || last == 0) ? 0...last : 1...last
    }

    /// Rows per evaluation chunk: C·chunk rows go through the network at once.
    static let evaluationChunk = 100

    /// Goodness summed over `layers` for every candidate label. Shapes: x N×D → scores N×C.
    func goodnessScores(_ x: Tensor, layers: ClosedRange<Int>) -> Tensor {
        scoresAndLoss(x, layers: layers)
    }

    /// Goodness summed over `layers` for every candidate label, as one batched pass of C·N rows;
    /// with `labels`, also adds to `loss` each sample's FF loss summed over `lossLayers` against
    /// its true label (positive) and the mean over its wrong labels (negatives).
    /// Shapes: x N×D → scores N×C.
    func scoresAndLoss(_ x: Tensor, layers: ClosedRange<Int>, labels batch: Batch? = nil,
                       lossLayers: ClosedRange<Int>? = nil, addingLossTo loss: LossSum? = nil) -> Tensor {
        let n = x.rows, c = classCount
        evaluationScores.resize(to: [n, c], on: x.backend)
        evaluationScores.fill(0)
        let deepest = max(layers.upperBound, lossLayers?.upperBound ?? 0)
        for start in stride(from: 0, to: n, by: Self.evaluationChunk) {
            let size = min(Self.evaluationChunk, n - start)
            evaluationRows.assignRows(start..<(start + size), of: x)
            embed(evaluationRows, labels: .candidateByBlock, copies: c)
            var h = embedded
            for index in 0...deepest {
                let unit = units[index]
                h = unit.forward(h, settings: settings, mode: .inference)
                h.rowSquaredSums(scale: settings.goodness.scale(width: h.columns), into: &evaluationGoodness)
                // Row `label` of the C×size goodness holds every sample under that candidate.
                let byCandidate = evaluationGoodness.reshaped([c, size])
                if layers.contains(index) { evaluationScores.addTransposed(byCandidate, atRow: start) }
                if let lossLayers, lossLayers.contains(index), let batch, let loss {
                    ForwardForwardLoss.expectedLoss(goodness: byCandidate, of: batch, startingAt: start, threshold: unit.threshold, addingTo: loss)
                }
            }
        }
        return evaluationScores
    }

    /// Monitored loss: the FF layer-loss sum of the trained layers (greedy: the stage's layer);
    /// accuracy: the goodness inference over the layers trained so far (or the readout).
    public func validate(_ batch: Batch, stage: Int, into sums: EvaluationSums) {
        let last = settings.schedule == .greedy ? stage : units.count - 1
        let lossLayers = settings.schedule == .greedy ? stage...stage : 0...(units.count - 1)
        let scores = scoresAndLoss(batch.inputs, layers: inferenceLayers(upTo: last), labels: batch, lossLayers: lossLayers, addingLossTo: sums.loss)
        if settings.inference == .readout && last == units.count - 1 {
            countReadoutMatches(batch, into: sums.correct)
        } else {
            scores.countArgmaxMatches(of: batch, into: sums)
        }
    }

    /// Adds the readout's correct predictions on `batch` to `correct` (none without a readout).
    func countReadoutMatches(_ batch: Batch, into correct: LossSum) {
        guard let readout else { return }
        SoftmaxCrossEntropy.evaluate(logits: readout.forward(neutralFeatures(batch.inputs), mode: .inference), of: batch,
                                     addingLossTo: nil, countingInto: correct)
    }

    public func countCorrect(_ batch: Batch) -> Int {
        if settings.inference == .readout {
            let correct = LossSum()
            countReadoutMatches(batch, into: correct)
            return Int(correct.value)
        }
        return goodnessScores(batch.inputs, layers: inferenceLayers(upTo: units.count - 1)).countArgmaxMatches(of: batch)
    }

    /// Every layer's parameters and peer-normalisation means, and the readout.
    public func move(to backend: (any DeviceBackend)?) {
        moveParametersAndState(to: backend)
        for unit in units { unit.runningMean = unit.runningMean.moved(to: backend) }
    }
}
