import Datasets
import NeuralNetwork
import TensorCore
import Testing
import TestSupport
import Training
@testable import Algorithms

/// Behavioural conformance: every algorithm through the same Trainer.
@Suite struct AlgorithmBehaviourTests {
    static let data = syntheticSplits()

    static func trainer(epochs: Int, batchSize: Int, seed: UInt64 = 1) -> Trainer {
        Trainer(configuration: .init(stopping: StoppingRule(patience: 20, minDelta: 0, maxEpochs: epochs),
                                     batchSize: batchSize, evaluationBatchSize: 100, seed: seed))
    }

    /// (id, options, learning-rate override, epochs) of the algorithms' options and schedules
    /// (each algorithm's defaults: RegistryConformanceTests).
    static let variants: [(String, [String: String], Double?, Int)] = [
        ("bp", ["bp.init": "study"], 3e-3, 10),
        ("mf", ["mf.input_projection": "trained"], 3e-3, 8),
        ("mf", ["mf.schedule": "concurrent"], 3e-3, 10),
        ("mf", ["mf.schedule": "concurrent", "mf.inference": "sum"], 3e-3, 10),
        ("dfa", ["dfa.nonlinearity": "tanh"], 3e-3, 10),
        ("ff", ["ff.normalization": "l2", "ff.goodness": "mean", "ff.threshold": "2"], 3e-2, 10),
        ("ff", ["ff.schedule": "greedy"], 3e-3, 6),
        ("ff", ["ff.inference": "readout"], 3e-3, 10),
        ("ff", ["ff.init": "study", "ff.train_readout": "always"], 3e-3, 10),
        ("ff", ["ff.negatives": "hard", "ff.optimizer": "sgd", "ff.cooldown": "linear"], 3e-2, 10),
        ("fa", ["fa.feedback_init": "kaiming"], 3e-3, 10),
        ("sign", ["sign.variant": "brsf"], 3e-3, 10),
        ("sign", ["sign.variant": "frsf", "sign.optimizer": "sgd"], 3e-2, 10),
        ("drtp", ["drtp.nonlinearity": "relu"], 3e-3, 10),
        ("pepita", ["pepita.output_error": "forward"], 1e-2, 10),
        ("fg", ["fg.perturbation": "weight", "fg.tangents": "4"], 1e-3, 10),
        ("pc", ["pc.variant": "fixed-prediction"], 3e-3, 10),
    ]

    @Test(arguments: variants)
    func learnsASyntheticTaskThroughTheTrainer(id: String, options: [String: String], learningRate: Double?, epochs: Int) {
        let algorithm = build(id, widths: [32, 32], common: CommonHyperparameters(learningRate: learningRate, batchSize: 32),
                              options: options)
        let result = Self.trainer(epochs: epochs, batchSize: 32).fit(algorithm, data: Self.data)
        #expect(result.status == .completed)
        #expect((result.testAccuracy ?? 0) >= 0.9, "\(id) \(options): \(result.testAccuracy ?? -1)")
    }

    /// The study's MF trains M0 on the input first, to its own stop; it never predicts.
    @Test func monoForwardTrainsTheInputProjectionFirstWhenAsked() {
        let algorithm = build("mf", widths: [16, 16], common: CommonHyperparameters(batchSize: 32), options: ["mf.input_projection": "trained"])
        #expect(algorithm.stages.map(\.name) == ["input", "layer1", "layer2"])
        #expect(algorithm.parameters(of: 0).map(\.name) == ["input.projection.weight"])
        #expect(algorithm.parameters(of: 0)[0].value.shape == [4, 16])
        let result = Self.trainer(epochs: 2, batchSize: 32).fit(algorithm, data: Self.data)
        #expect(result.stages.map(\.name) == ["input", "layer1", "layer2"])
        #expect(result.effectiveEpochs == 6)
        // M0 only costs: whatever it holds, the predictions stay.
        let test = firstBatch(of: Self.data.test, count: 500)
        let correct = algorithm.countCorrect(test)
        algorithm.parameters(of: 0)[0].value.fill(7)
        #expect(algorithm.countCorrect(test) == correct)
    }

    @Test func sequentialMonoForwardRunsOneStagePerLayer() {
        let algorithm = build("mf", widths: [16, 16, 16], common: CommonHyperparameters(batchSize: 32))
        #expect(algorithm.stages.map(\.name) == ["layer1", "layer2", "layer3"])
        let result = Self.trainer(epochs: 2, batchSize: 32).fit(algorithm, data: Self.data)
        #expect(result.stages.map(\.name) == ["layer1", "layer2", "layer3"])
        #expect(result.stages.allSatisfy { $0.epochs == 2 })
        #expect(result.effectiveEpochs == 6)
        #expect(result.epochs.map(\.stage) == ["layer1", "layer1", "layer2", "layer2", "layer3", "layer3"])
    }

    @Test(arguments: [("mf", ["mf.schedule": "concurrent"]), ("ff", ["ff.inference": "readout"]), ("ff", ["ff.train_readout": "always"]),
                      ("mf", ["mf.input_projection": "trained", "mf.schedule": "concurrent"]), ("sign", ["sign.variant": "brsf"]),
                      ("fg", ["fg.perturbation": "weight"]), ("pc", ["pc.variant": "fixed-prediction"])])
    func steadyStateTrainingAllocatesNoTensors(id: String, options: [String: String]) {
        let algorithm = build(id, widths: [16, 16], options: options)
        var schedule = BatchSchedule(count: Self.data.train.count, batchSize: 32, order: .shuffledDroppingLast)
        var generator = SeededGenerator(seed: 1)
        schedule.startEpoch(using: &generator)
        var batch = Batch()
        let loss = LossSum()
        let stage = algorithm.stages.count - 1
        for index in 0..<3 {
            schedule.fill(&batch, index: index, from: Self.data.train)
            algorithm.trainBatch(batch, stage: stage, loss: loss)
        }
        let allocations = OperationCounter.counting { counter in
            for index in 3..<schedule.batchCount {
                schedule.fill(&batch, index: index, from: Self.data.train)
                algorithm.trainBatch(batch, stage: stage, loss: loss)
            }
            return counter.allocations
        }
        #expect(allocations == 0)
    }

    // MARK: No leaks

    /// Training stage `stage` for one step changes exactly the parameters it owns.
    @Test(arguments: [("mf", [String: String](), 1), ("mf", [:], 0), ("ff", ["ff.schedule": "greedy"], 1),
                      ("mf", ["mf.input_projection": "trained"], 0), ("mf", ["mf.input_projection": "trained"], 2)])
    func aStageChangesOnlyItsOwnLayer(id: String, options: [String: String], stage: Int) {
        let algorithm = build(id, widths: [8, 8, 8], options: options)
        let all = (0..<algorithm.stages.count).flatMap { algorithm.parameters(of: $0) }
        let before = values(all)
        _ = algorithm.trainBatch(firstBatch(of: Self.data.train, count: 16), stage: stage)
        let after = values(all)
        let owned = Set(algorithm.parameters(of: stage).map(\.name))
        for name in before.keys {
            if owned.contains(name) { #expect(before[name] != after[name], "\(name) should change") }
            else { #expect(before[name] == after[name], "\(name) must not change") }
        }
    }

    /// In a simultaneous/concurrent step each layer's gradient comes from its own loss only:
    /// it equals the gradient of that layer trained alone on the same (pre-update) input.
    @Test func concurrentMonoForwardGradientsStayLocal() {
        let mf = build("mf", widths: [8, 8], options: ["mf.schedule": "concurrent"]) as! MonoForward
        let batch = firstBatch(of: Self.data.train, count: 16)
        let loss = SoftmaxCrossEntropy()
        mf.units.flatMap(\.parameters).forEach { $0.zeroGradient() }
        let a1 = mf.units[0].accumulateGradients(batch.inputs, batch: batch, loss: loss, total: LossSum())
        let firstAlone = mf.units[0].parameters.map(\.gradient.scalars)
        _ = mf.units[1].accumulateGradients(a1, batch: batch, loss: loss, total: LossSum())
        #expect(mf.units[0].parameters.map(\.gradient.scalars) == firstAlone, "layer 2's loss reached layer 1")
    }

    @Test func forwardForwardGradientsStayLocal() {
        let ff = build("ff", widths: [8, 8]) as! ForwardForward
        let batch = firstBatch(of: Self.data.train, count: 16)
        let all = ff.parameters(of: 0)
        all.forEach { $0.zeroGradient() }
        ff.accumulateGradients(batch, stage: 0, loss: LossSum())
        let both = all.map(\.gradient.scalars)
        // Layer 1's gradient with layer 2 frozen (greedy stage 0) is the same.
        let greedy = build("ff", widths: [8, 8], options: ["ff.schedule": "greedy"]) as! ForwardForward
        greedy.parameters(of: 0).forEach { $0.zeroGradient() }
        greedy.accumulateGradients(batch, stage: 0, loss: LossSum())
        #expect(greedy.parameters(of: 0).map(\.gradient.scalars) == Array(both.prefix(2)))
        #expect(greedy.parameters(of: 1).allSatisfy { $0.gradient.scalars.allSatisfy { $0 == 0 } })
    }

    // MARK: Forward-Forward samples and inference

    @Test func labelEmbeddingOverwritesTheFirstInputs() {
        let ff = build("ff", widths: [4], inputSize: 6, classCount: 3, options: ["ff.label_value": "2"]) as! ForwardForward
        let x = Tensor(shape: [2, 6], scalars: [9, 9, 9, 1, 2, 3, 8, 8, 8, 4, 5, 6])
        ff.embed(x, labels: .perRow([2, 0, 1, 1]), copies: 2)
        #expect(ff.embeddedForTesting.scalars == [0, 0, 2, 1, 2, 3, 2, 0, 0, 4, 5, 6,
                                                  0, 2, 0, 1, 2, 3, 0, 2, 0, 4, 5, 6])
        // Every candidate: block b of the copies carries label b.
        ff.embed(x, labels: .candidateByBlock, copies: 3)
        #expect(ff.embeddedForTesting.scalars == [2, 0, 0, 1, 2, 3, 2, 0, 0, 4, 5, 6,
                                                  0, 2, 0, 1, 2, 3, 0, 2, 0, 4, 5, 6,
                                                  0, 0, 2, 1, 2, 3, 0, 0, 2, 4, 5, 6])
        ff.embed(x, labels: .neutral, copies: 1)
        #expect(ff.embeddedForTesting.scalars.prefix(3).allSatisfy { abs($0 - 2.0 / 3) < 1e-6 })
    }

    @Test func uniformNegativesNeverPickTheTrueLabelAndCoverTheOthers() {
        for label in 0..<5 {
            let draws = (0..<400).map { WrongClassSampling.draw(label: label, classCount: 5, scores: nil, key: 11, row: $0) }
            #expect(!draws.contains(label))
            #expect(Set(draws).count == 4)
        }
    }

    @Test func hardNegativesNeverPickTheTrueLabel() {
        // The true class has by far the highest score; it must still never be drawn.
        let scores: [Float] = [100, 1, 2, 3]
        let draws = (0..<300).map { row in WrongClassSampling.draw(label: 0, classCount: 4, scores: scores, key: 11, row: row) }
        #expect(!draws.contains(0))
        #expect(draws.filter { $0 == 3 }.count > draws.filter { $0 == 1 }.count)
    }

    /// A hand-built network whose goodness is largest when label 1 is embedded.
    @Test func goodnessInferencePicksTheLabelWithTheHighestGoodness() {
        let ff = build("ff", widths: [3, 3], inputSize: 5, classCount: 3, options: ["ff.inference": "goodness-all"]) as! ForwardForward
        // Layer 1 copies inputs 0-2 (the label slots); layer 2 weights label slot 1 heavily.
        ff.units[0].linear.weight.value = Tensor(shape: [3, 5], scalars: [1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0])
        ff.units[1].linear.weight.value = Tensor(shape: [3, 3], scalars: [1, 0, 0, 0, 5, 0, 0, 0, 1])
        let batch = Batch.testing(inputs: Tensor(shape: [2, 5], scalars: [0, 0, 0, 1, 1, 0, 0, 0, -1, 2]), labels: [1, 0])
        #expect(ff.countCorrect(batch) == 1)
        let scores = ff.goodnessScores(batch.inputs, layers: 0...1)
        #expect(scores[1] > scores[0] && scores[1] > scores[2])
    }

    @Test func inferenceSkipsTheFirstLayerByDefault() {
        let ff = build("ff", widths: [4, 4, 4]) as! ForwardForward
        #expect(ff.inferenceLayers(upTo: 2) == 1...2)
        let all = build("ff", widths: [4, 4, 4], options: ["ff.inference": "goodness-all"]) as! ForwardForward
        #expect(all.inferenceLayers(upTo: 2) == 0...2)
    }

    @Test func candidateLabelsAreEvaluatedAsOneBatchedPass() {
        // C = 4 labels of 10 samples through 2 layers: one GEMM per layer over 40 rows.
        let ff = build("ff", widths: [8, 8]) as! ForwardForward
        let batch = firstBatch(of: Self.data.test, count: 10)
        let flops = OperationCounter.counting { counter in
            _ = ff.countCorrect(batch)
            return counter.flops
        }
        #expect(flops == 2 * 40 * (16 * 8 + 8 * 8))
    }

    @Test func unknownAndIllTypedOptionsListTheValidOnes() {
        #expect(throws: ConfigurationError.self) { _ = try Hyperparameters(prefix: "ff", specs: ForwardForward.hyperparameterSpecs, options: ["ff.nope": "1"]) }
        do {
            _ = try Hyperparameters(prefix: "mf", specs: MonoForward.hyperparameterSpecs, options: ["mf.schedule": "sideways"])
            Issue.record("expected an error")
        } catch {
            #expect("\(error)" == "--set: mf.schedule=sideways: expected sequential | concurrent")
        }
        do {
            _ = try Hyperparameters(prefix: "dfa", specs: DirectFeedbackAlignment.hyperparameterSpecs, options: ["dfa.learning_rate": "fast"])
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".contains("expected a number"))
        }
        do {
            _ = try Hyperparameters(prefix: "mf", specs: MonoForward.hyperparameterSpecs, options: ["ff.schedule": "greedy"])
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".contains("unknown option 'ff.schedule' for mf; valid: mf.learning_rate"))
        }
    }

    @Test func searchSpacesFollowProtocolSection4() {
        func ranges(_ type: any RegisteredAlgorithm.Type) -> [String: ClosedRange<Double>] {
            Dictionary(uniqueKeysWithValues: type.hyperparameterSpecs.compactMap { spec in spec.searchRange.map { (spec.name, $0) } })
        }
        #expect(ranges(Backpropagation.self) == ["learning_rate": 1e-5...1e-2, "weight_decay": 1e-6...1e-3])
        #expect(ranges(MonoForward.self) == ["learning_rate": 1e-5...1e-2])
        #expect(ranges(DirectFeedbackAlignment.self) == ["learning_rate": 1e-5...1e-2, "weight_decay": 1e-6...1e-3])
        #expect(ranges(ForwardForward.self) == ["learning_rate": 2e-4...5e-3, "weight_decay": 1e-4...1e-3,
                                                "readout_learning_rate": 2e-3...5e-2, "readout_weight_decay": 1e-3...1e-2])
        // Every default lies inside its searched range, except where the default is "off" (0).
        for type in AlgorithmRegistry.all {
            for spec in type.hyperparameterSpecs {
                guard let range = spec.searchRange, case .real(let value) = spec.defaultValue, value > 0 else { continue }
                #expect(range.contains(value), "\(type.id).\(spec.name) default \(value) outside \(range)")
            }
        }
    }

    @Test func defaultArchitecturesFollowTheProtocol() throws {
        func architecture(_ id: String, _ dataset: String) throws -> Architecture {
            try AlgorithmRegistry.make(id: id, architecture: nil, inputShape: [16], classCount: 4, seed: 1, dataset: dataset).architecture
        }
        #expect(try architecture("mf", "fashion-mnist") == .mlp(hiddenWidths: [1000, 1000]))
        #expect(try architecture("mf", "cifar10") == .mlp(hiddenWidths: [2000, 2000, 2000]))
        #expect(try architecture("bp", "cifar100") == .mlp(hiddenWidths: [2000, 2000, 2000]))
        #expect(try architecture("ff", "mnist") == .mlp(hiddenWidths: [2000, 2000, 2000, 2000]))
    }

    /// `init=study` starts each network as the study's model of it did.
    @Test func studyInitialisationFollowsTheStudysModels() throws {
        func parameters(_ id: String, _ architecture: Architecture, _ inputShape: [Int], _ options: [String: String]) throws -> [String: Tensor] {
            let built = try AlgorithmRegistry.make(id: id, architecture: architecture, inputShape: inputShape, classCount: 10,
                                                   options: options, seed: 4).algorithm
            return Dictionary(uniqueKeysWithValues: (0..<built.stages.count).flatMap { built.parameters(of: $0) }.map { ($0.name, $0.value) })
        }
        func spread(_ t: Tensor) -> (maxAbs: Float, sd: Double) {
            let v = t.scalars.map(Double.init), mean = v.reduce(0, +) / Double(v.count)
            return (t.scalars.map(abs).max()!, (v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(v.count)).squareRoot())
        }
        // BP on the study's MF_MLP: hidden U(±√(6/fan_in)), zero biases, output N(0, 0.01²).
        let bp = try parameters("bp", .mlp(hiddenWidths: [400, 300]), [784], ["bp.init": "study"])
        let bound = (6 / Float(784)).squareRoot()
        let layer1 = spread(bp["layer1.weight"]!)
        #expect(layer1.maxAbs <= bound && layer1.maxAbs > 0.99 * bound)
        #expect(abs(layer1.sd - Double(bound) / 3.squareRoot()) < 0.01 * Double(bound))
        #expect(bp["layer1.bias"]!.scalars.allSatisfy { $0 == 0 } && bp["output.bias"]!.scalars.allSatisfy { $0 == 0 })
        #expect(abs(spread(bp["output.weight"]!).sd - 0.01) < 0.001)
        // PyTorch's default: U(±1/√fan_in), biases too.
        let pytorch = try parameters("bp", .mlp(hiddenWidths: [400, 300]), [784], [:])
        #expect(spread(pytorch["layer1.weight"]!).maxAbs <= 1 / Float(784).squareRoot())
        #expect(pytorch["layer1.bias"]!.scalars.contains { $0 != 0 })
        // The CNN's convolutions: Kaiming-uniform, fan_in = C·3·3, in BP and in CaFo.
        let cafo = try AlgorithmRegistry.make(id: "cafo", architecture: .cnn(channels: [8, 16]), inputShape: [1, 8, 8], classCount: 10,
                                              options: ["cafo.init": "study"], seed: 4).algorithm as! CascadedForward
        let cafoConvolution = cafo.blocks[1].parameters.first { $0.name == "block2.conv.weight" }!.value
        for (id, weight) in [("bp", try parameters("bp", .cnn(channels: [8, 16]), [1, 8, 8], ["bp.init": "study"])["block2.conv.weight"]!),
                             ("cafo", cafoConvolution)] {
            let conv = spread(weight), convBound = (6 / Float(8 * 9)).squareRoot()
            #expect(conv.maxAbs <= convBound && conv.maxAbs > 0.95 * convBound, "\(id)")
        }
        // FF: N(0, 1/fan_out), zero biases.
        let ff = try parameters("ff", .mlp(hiddenWidths: [500, 400]), [784], ["ff.init": "study"])
        #expect(abs(spread(ff["layer1.weight"]!).sd - 1 / 500.0.squareRoot()) < 0.001)
        #expect(abs(spread(ff["layer2.weight"]!).sd - 1 / 400.0.squareRoot()) < 0.001)
        #expect(ff["layer1.bias"]!.scalars.allSatisfy { $0 == 0 })
    }

    /// The study's FF trains its downstream classifier in the window but predicts by goodness:
    /// the readout learns, the layers and every prediction are those of FF without it.
    @Test func anAlwaysTrainedReadoutCostsButNeverPredicts() {
        let trainer = Self.trainer(epochs: 2, batchSize: 32)
        let withReadout = build("ff", widths: [16, 16], common: CommonHyperparameters(batchSize: 32), options: ["ff.train_readout": "always"])
        let readout = withReadout.parameters(of: 0).filter { $0.name.hasPrefix("readout") }
        #expect(readout.count == 1)
        let result = trainer.fit(withReadout, data: Self.data)
        #expect(readout[0].value.scalars.contains { $0 != 0 }, "the readout trained")
        let plain = build("ff", widths: [16, 16], common: CommonHyperparameters(batchSize: 32))
        let plainResult = trainer.fit(plain, data: Self.data)
        #expect(values(plain.parameters(of: 0)) == values(withReadout.parameters(of: 0).filter { !$0.name.hasPrefix("readout") }))
        #expect(plainResult.testAccuracy == result.testAccuracy)
    }

    @Test func resolvedOptionsReachTheRecord() throws {
        let built = try AlgorithmRegistry.make(id: "ff", architecture: nil, inputShape: [16], classCount: 4,
                                               common: CommonHyperparameters(learningRate: 0.002),
                                               options: ["ff.normalization": "l2", "ff.threshold": "2.5"], seed: 1)
        #expect(built.architecture == .mlp(hiddenWidths: [2000, 2000, 2000, 2000]))
        #expect(built.hyperparameters.values["normalization"] == .text("l2"))
        #expect(built.hyperparameters.values["threshold"] == .real(2.5))
        #expect(built.hyperparameters.values["learning_rate"] == .real(0.002))
        #expect(built.batchSize == 100)
    }
}
