import Foundation
import Datasets
import NeuralNetwork
import TensorCore
import Testing
import TestSupport
import Training
@testable import Algorithms

/// CaFo: sparsemax, the closed form, frozen blocks, the feature cache, and learning.
@Suite struct CascadedForwardTests {
    /// Images of 2×10×10 (channel-major rows), 4 classes.
    static let data: DataSplits = {
        var splits = SyntheticDataset.splits(train: 800, validation: 200, test: 300, features: 200, classes: 4, noise: 0.6, seed: 5)
        for keyPath in [\DataSplits.train, \DataSplits.validation, \DataSplits.test] { splits[keyPath: keyPath].sampleShape = [2, 10, 10] }
        return splits
    }()

    static func cafo(_ id: String, options: [String: String] = [:], seed: UInt64 = 1) -> CascadedForward {
        try! AlgorithmRegistry.make(id: id, architecture: .cnn(channels: [4, 8]), inputShape: [2, 10, 10], classCount: 4,
                                    common: CommonHyperparameters(learningRate: 3e-3, batchSize: 32), options: options,
                                    seed: seed).algorithm as! CascadedForward
    }

    static func trainer(epochs: Int) -> Trainer {
        Trainer(configuration: .init(stopping: StoppingRule(patience: 20, minDelta: 0, maxEpochs: epochs), batchSize: 32,
                                     evaluationBatchSize: 100, seed: 1))
    }

    @Test(arguments: [("cafo-rand-ce", [:]), ("cafo-rand-mse", [:]), ("cafo-rand-sl", [:]), ("cafo-dfa-ce", [:]),
                      ("cafo-dfa-mse", [:]), ("cafo-rand-ce", ["cafo.solver": "full-batch"]),
                      ("cafo-rand-ce", ["cafo.inference": "probabilities"]), ("cafo-rand-sl", ["cafo.inference": "probabilities"])])
    func learnsASyntheticImageTask(id: String, options: [String: String]) {
        let algorithm = Self.cafo(id, options: options)
        let result = Self.trainer(epochs: 8).fit(algorithm, data: Self.data)
        #expect(result.status == .completed)
        #expect((result.testAccuracy ?? 0) >= 0.9, "\(id) \(options): \(result.testAccuracy ?? -1)")
        let predictors = ["predictor1", "predictor2"]
        #expect(result.stages.map(\.name) == (id.contains("dfa") ? ["blocks"] + predictors : predictors))
        if id.hasSuffix("mse") {
            #expect(result.stages.suffix(2).allSatisfy { $0.epochs == 1 }, "closed form: one epoch")
            #expect(result.stages.suffix(2).allSatisfy { $0.note?.hasPrefix("closed form by") == true }, "the record says how it was solved")
        } else {
            #expect(result.stages.allSatisfy { $0.note == nil })
        }
    }

    /// BP on a CNN: after the first batches, training steps and evaluation passes at the
    /// training batch size (the trainer's default) allocate no tensors: every layer reuses its
    /// buffers, oneDNN's primitives are kept per batch size.
    @Test func steadyStateCNNTrainingAndEvaluationAllocateNoTensors() {
        let bp = try! AlgorithmRegistry.make(id: "bp", architecture: .cnn(channels: [4, 8]), inputShape: [2, 10, 10], classCount: 4,
                                             common: CommonHyperparameters(batchSize: 32), seed: 1).algorithm
        var schedule = BatchSchedule(count: Self.data.train.count, batchSize: 32, order: .shuffledDroppingLast)
        var generator = SeededGenerator(seed: 1)
        schedule.startEpoch(using: &generator)
        var batch = Batch()
        func step(_ index: Int) {
            schedule.fill(&batch, index: index, from: Self.data.train)
            _ = bp.trainBatch(batch, stage: 0)
            _ = bp.validate(batch, stage: 0)
        }
        for index in 0..<3 { step(index) }
        let allocations = OperationCounter.counting { counter in
            for index in 3..<schedule.batchCount { step(index) }
            return counter.allocations
        }
        #expect(allocations == 0)
    }

    @Test func backpropagationTrainsTheSameBlocksEndToEnd() {
        let built = try! AlgorithmRegistry.make(id: "bp", architecture: .cnn(channels: [4, 8]), inputShape: [2, 10, 10], classCount: 4,
                                                common: CommonHyperparameters(learningRate: 3e-3, batchSize: 32), seed: 1)
        let bp = built.algorithm as! Backpropagation
        #expect(bp.network.parameters.map(\.name) == ["block1.conv.weight", "block1.bn.weight", "block1.bn.bias", "block2.conv.weight",
                                                       "block2.bn.weight", "block2.bn.bias", "output.weight", "output.bias"])
        let result = Self.trainer(epochs: 6).fit(bp, data: Self.data)
        #expect((result.testAccuracy ?? 0) >= 0.9, "\(result.testAccuracy ?? -1)")
        #expect(throws: ConfigurationError.self) {
            try AlgorithmRegistry.make(id: "bp", architecture: .cnn(channels: [4]), inputShape: [16], classCount: 4, seed: 1)
        }
        #expect(throws: ConfigurationError.self) {
            try AlgorithmRegistry.make(id: "mf", architecture: .cnn(channels: [4]), inputShape: [16], classCount: 4, seed: 1)
        }
    }

    /// Mono-Forward on a CNN: one stage per block, each block and its projection learn from the
    /// block's local loss only, and the network learns the task (issue: MF on CNNs).
    @Test(arguments: [[String: String](), ["mf.schedule": "concurrent", "mf.inference": "sum"]])
    func monoForwardTrainsEachBlockOnItsOwnLoss(options: [String: String]) throws {
        let mf = try AlgorithmRegistry.make(id: "mf", architecture: .cnn(channels: [4, 8]), inputShape: [2, 10, 10], classCount: 4,
                                            common: CommonHyperparameters(learningRate: 3e-3, batchSize: 32), options: options, seed: 1).algorithm as! MonoForward
        #expect(mf.stages.map(\.name) == (options.isEmpty ? ["block1", "block2"] : ["layers"]))
        #expect(mf.units.map { $0.parameters.map(\.name) } == [
            ["block1.conv.weight", "block1.bn.weight", "block1.bn.bias", "block1.projection.weight"],
            ["block2.conv.weight", "block2.bn.weight", "block2.bn.bias", "block2.projection.weight"]])
        #expect(mf.units[1].projection.inputSize == 8 * 2 * 2)
        if options.isEmpty {
            // Training block 2 leaves block 1 as it was.
            let before = values(mf.units[0].parameters)
            var batch = Batch()
            var schedule = BatchSchedule(count: Self.data.train.count, batchSize: 16, order: .sequential)
            schedule.fill(&batch, index: 0, from: Self.data.train)
            _ = mf.trainBatch(batch, stage: 1)
            #expect(values(mf.units[0].parameters) == before)
        }
        let result = Self.trainer(epochs: 6).fit(mf, data: Self.data)
        #expect((result.testAccuracy ?? 0) >= 0.9, "\(result.testAccuracy ?? -1)")
    }

    /// The local loss of a whole block (Conv → ReLU → MaxPool → BatchNorm in training mode, then
    /// M) against central differences, for the convolution, γ, β and M.
    @Test func monoForwardBlockLossGradientsMatchFiniteDifferences() throws {
        let mf = try AlgorithmRegistry.make(id: "mf", architecture: .cnn(channels: [3]), inputShape: [2, 6, 6], classCount: 3, seed: 2).algorithm as! MonoForward
        let unit = mf.units[0]
        var generator = SeededGenerator(seed: 7)
        // Positive inputs and weights keep every ReLU open and every pooling window's maximum
        // unique, so the loss is smooth where it is differentiated (ReLU's gate is checked alone).
        let x = Tensor(shape: [5, 72], uniformIn: 0.1...1, using: &generator)
        unit.parameters[0].value = Tensor(shape: unit.parameters[0].value.shape, uniformIn: 0.05...0.5, using: &generator)
        let labels: [Int32] = [0, 1, 2, 1, 0]
        let loss = SoftmaxCrossEntropy()
        unit.parameters.forEach { $0.zeroGradient() }
        _ = unit.accumulateGradients(x, batch: .testing(inputs: x, labels: labels), loss: loss, total: LossSum())
        func localLoss() -> Double {
            let g = unit.projection.forward(unit.features(unit.activations(x, mode: .training)), mode: .inference)
            return SoftmaxCrossEntropy.evaluate(logits: g, labels: labels).lossSum / 5
        }
        for parameter in unit.parameters {
            let original = parameter.value
            let numeric = GradientCheck.numericGradient(at: original, step: 1e-3) { parameter.value = $0; return localLoss() }
            parameter.value = original
            #expect(GradientCheck.relativeError(parameter.gradient.scalars, numeric) < 2e-2, "\(parameter.name)")
        }
    }

    @Test func architecturesParseAndPrint() throws {
        #expect(try Architecture(parsing: "cnn-3block") == .cnn(channels: [32, 128, 512]))
        #expect(try Architecture(parsing: "cnn:8,16").description == "cnn:8,16")
        #expect(Architecture.cnn(channels: [32, 128, 512]).description == "cnn-3block")
        #expect(throws: ConfigurationError.self) { try Architecture(parsing: "cnn:8,x") }
        // Found by fuzzing (Fuzz/Crashes/architecture): a depth of 10^17 tried to allocate it.
        for huge in ["mlp-122222222222222223x4", "mlp-1001x10", "mlp:16777217", "cnn:8,16777217"] {
            #expect { try Architecture(parsing: huge) } throws: { "\($0)".contains("'\(huge)' is too large: at most 1000 layers of at most 16777216 units") }
        }
        #expect(try Architecture(parsing: "mlp-1000x16777216") == .mlp(hiddenWidths: Array(repeating: 1 << 24, count: 1000)))
        #expect(throws: ConfigurationError.self) {
            _ = try AlgorithmRegistry.options(for: "cafo-rand-ce", ["cafo.blocks": "dfa"])
        }
        #expect(try AlgorithmRegistry.searchSpace(for: "cafo-rand-ce").map(\.name) == ["learning_rate", "weight_decay"])
        #expect(try AlgorithmRegistry.searchSpace(for: "cafo-dfa-ce").map(\.name)
                == ["learning_rate", "weight_decay", "block_learning_rate", "block_weight_decay"])
        // FF's readout rate and decay are tuned only when the readout predicts.
        #expect(try AlgorithmRegistry.searchSpace(for: "ff").map(\.name) == ["learning_rate", "weight_decay"])
        #expect(try AlgorithmRegistry.searchSpace(for: "ff", options: ["ff.train_readout": "always"]).map(\.name) == ["learning_rate", "weight_decay"])
        #expect(try AlgorithmRegistry.searchSpace(for: "ff", options: ["ff.inference": "readout"]).map(\.name)
                == ["learning_rate", "weight_decay", "readout_learning_rate", "readout_weight_decay"])
    }

    /// The study's frozen random blocks normalise with PyTorch's initial running statistics
    /// (mean 0, variance 0.9): their features are the pooled activations scaled by 1/√(0.9 + ε).
    @Test func initialBatchNormStatisticsScaleThePooledActivations() throws {
        func features(_ options: [String: String]) throws -> (normalized: Tensor, pooled: Tensor) {
            let algorithm = try AlgorithmRegistry.make(id: "cafo-rand-ce", architecture: .cnn(channels: [4]), inputShape: [2, 10, 10],
                                                       classCount: 4, options: options, seed: 1).algorithm as! CascadedForward
            let images = Self.data.train.inputs
            let pooled = Sequential(Array(algorithm.blocks[0].layers.dropLast())).forward(images, mode: .inference).reshaped([images.rows, 100])
            return (algorithm.trainBlockFeatures(0, input: images), pooled)
        }
        let (normalized, pooled) = try features(["cafo.bn_statistics": "initial", "cafo.bn_epsilon": "1e-05"])
        let scale = 1 / (0.9 + 1e-5 as Float).squareRoot()
        #expect(zip(normalized.scalars, pooled.scalars).allSatisfy { abs($0 - $1 * scale) <= 1e-5 * max(1, abs($0)) })
        // bpfree's default normalises with the training features' own statistics instead.
        let trained = try features([:]).normalized
        #expect(trained.scalars != normalized.scalars)
    }

    @Test func randomBlocksNeverChangeAndRunOncePerSplit() {
        let algorithm = Self.cafo("cafo-rand-ce")
        let blockParameters = algorithm.blocks.flatMap { $0.layers.flatMap(\.parameters) }
        #expect(blockParameters.count == 2, "the convolutions; BatchNorm's γ, β are not trained")
        let before = values(blockParameters)
        let result = Self.trainer(epochs: 3).fit(algorithm, data: Self.data)
        #expect(result.status == .completed)
        #expect(values(blockParameters) == before)
        // Each block ran forward exactly once over train, validation and test.
        let samples = Self.data.train.count + Self.data.validation.count + Self.data.test.count
        #expect(algorithm.blockForwardSamples == [samples, samples])
    }

    @Test func dfaPretrainingChangesTheBlocksWithUnitNormFeedback() {
        let algorithm = Self.cafo("cafo-dfa-ce")
        #expect(algorithm.feedback.count == 1 && algorithm.feedback[0].shape == [4, 100])
        for row in 0..<4 {
            let norm = (0..<100).reduce(Float(0)) { $0 + pow(algorithm.feedback[0][row * 100 + $1], 2) }
            #expect(abs(norm - 1) < 1e-4)
        }
        let conv = algorithm.blocks[0].layers.flatMap(\.parameters)
        let before = values(conv)
        _ = algorithm.trainBatch(firstBatch(of: Self.data.train, count: 32), stage: 0)
        #expect(values(conv) != before, "the first block learns from e·B")
        #expect(algorithm.parameters(of: 0).count == 2 * 3 + 2, "conv, γ, β per block and the auxiliary head")
    }

    /// The predictors' stage data: block features for training and validation; the earlier
    /// predictors' summed outputs on the validation rows are the stage's context, and the
    /// validation accuracy is that of the ensemble so far, row by row whatever the batch order.
    @Test func stageContextHoldsTheEnsembleOfEarlierPredictors() {
        let algorithm = Self.cafo("cafo-rand-ce")
        let first = algorithm.stageData(0, from: Self.data)!
        #expect(first.train.featureCount == 4 * 5 * 5 && first.validation.featureCount == 100)
        #expect(algorithm.validationEnsemble.shape == [Self.data.validation.count, 4])
        #expect(algorithm.validationEnsemble.scalars.allSatisfy { $0 == 0 })
        let second = algorithm.stageData(1, from: Self.data)!
        #expect(second.train.featureCount == 8 * 2 * 2 && second.validation.featureCount == 32)
        // The context now holds predictor 1's logits on the validation features.
        let logits = algorithm.predictors[0].forward(algorithm.blockFeatures(0, input: Self.data.validation.inputs), mode: .inference)
        for row in [0, 7, 199] {
            for j in 0..<4 { #expect(abs(algorithm.validationEnsemble[row * 4 + j] - logits[row * 4 + j]) < 1e-4) }
        }
        // A batch of validation rows out of order: each row's ensemble is its own sample's.
        let samples = [199, 7, 0, 42]
        var batch = Batch.testing(inputs: Tensor(zeros: [0]), labels: samples.map { second.validation.labels[$0] })
        batch.inputs.gatherRows(samples, of: second.validation.inputs)
        batch.samples = samples
        let own = algorithm.predictors[1].forward(batch.inputs, mode: .inference)
        var expected = 0
        for (row, sample) in samples.enumerated() {
            let sums = (0..<4).map { algorithm.validationEnsemble[sample * 4 + $0] + own[row * 4 + $0] }
            if sums.firstIndex(of: sums.max()!)! == Int(batch.labels[row]) { expected += 1 }
        }
        #expect(algorithm.validate(batch, stage: 1).correct == expected)
    }

    @Test func sparsemaxMatchesHandComputedRows() {
        var scratch: [Float] = []
        func sparsemax(_ z: [Float]) -> [Float] {
            var p = [Float](repeating: 0, count: z.count)
            z.withUnsafeBufferPointer { zp in p.withUnsafeMutableBufferPointer {
                _ = SparsemaxLoss.sparsemax(zp.baseAddress!, count: z.count, into: $0.baseAddress!, scratch: &scratch)
            } }
            return p
        }
        // z = (1, 0.5, −1): k = 2, τ = (1.5 − 1)/2 = 0.25 → (0.75, 0.25, 0).
        #expect(sparsemax([1, 0.5, -1]).map { ($0 * 1e5).rounded() / 1e5 } == [0.75, 0.25, 0])
        // A dominant entry takes everything; equal entries share equally.
        #expect(sparsemax([3, 0, 0]) == [1, 0, 0])
        #expect(sparsemax([0.2, 0.2, 0.2, 0.2]) == [0.25, 0.25, 0.25, 0.25])
        // z = (0.1, 0.3, 0.2): all in the support, τ = (0.6 − 1)/3.
        let p = sparsemax([0.1, 0.3, 0.2])
        for (value, expected) in zip(p, [0.1 + 0.4 / 3, 0.3 + 0.4 / 3, 0.2 + 0.4 / 3] as [Float]) { #expect(abs(value - expected) < 1e-6) }
    }

    @Test func sparsemaxLossGradientMatchesFiniteDifferences() {
        let loss = SparsemaxLoss()
        var generator = SeededGenerator(seed: 3)
        let z = Tensor(shape: [4, 5], uniformIn: -1...1, using: &generator)
        let labels: [Int32] = [0, 3, 1, 4]
        _ = loss.lossAndGradient(logits: z, labels: labels)
        let analytic = loss.gradient.scalars
        let numeric = GradientCheck.numericGradient(at: z, step: 1e-3) { SparsemaxLoss().evaluate(logits: $0, labels: labels).lossSum / 4 }
        #expect(GradientCheck.relativeError(analytic, numeric) < 2e-2)
    }

    @Test func closedFormMatchesADirectSolveAndFallsBackOnASingularSystem() {
        // Well conditioned: the least-squares W of a random X against one-hot targets.
        var generator = SeededGenerator(seed: 4)
        let x = Tensor(shape: [40, 6], uniformIn: -1...1, using: &generator)
        let labels = (0..<40).map { Int32($0 % 3) }
        let algorithm = Self.cafo("cafo-rand-mse")
        let predictor = Linear(inputSize: 6, outputSize: 3, using: &generator)
        algorithm.fitClosedForm(predictor, features: x, labels: labels)
        #expect(algorithm.lastClosedFormMethod == .cholesky)
        // The normal equations hold: Xᵀ(XW − Y) = 0.
        func residual(_ w: Tensor, _ x: Tensor) -> Float {
            var z = Tensor(zeros: [0]), r = Tensor(zeros: [0])
            Tensor.matmul(x, .none, w, .transposed, into: &z)
            for row in 0..<x.rows { z[row * 3 + Int(labels[row])] -= 1 }
            Tensor.matmul(x, .transposed, z, .none, into: &r)
            return r.scalars.map(abs).max()!
        }
        #expect(residual(predictor.weight.value, x) < 1e-3)
        #expect(predictor.bias!.value.scalars == [0, 0, 0])
        // Singular: a duplicated column. Cholesky fails; the pseudo-inverse gives the
        // minimum-norm solution, which splits the weight equally between the twins.
        var twin = Tensor(uninitialized: [40, 7])
        for row in 0..<40 { for j in 0..<7 { twin[row * 7 + j] = x[row * 6 + min(j, 5)] } }
        let wide = Linear(inputSize: 7, outputSize: 3, using: &generator)
        algorithm.fitClosedForm(wide, features: twin, labels: labels)
        #expect(algorithm.lastClosedFormMethod == .pseudoInverse)
        #expect(residual(wide.weight.value, twin) < 1e-3)
        for o in 0..<3 { #expect(abs(wide.weight.value[o * 7 + 5] - wide.weight.value[o * 7 + 6]) < 1e-4) }
    }
}
