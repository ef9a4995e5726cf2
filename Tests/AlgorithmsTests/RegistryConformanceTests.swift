import Datasets
import Experiments
import Foundation
import NeuralNetwork
import Records
import Reporting
import Results
import TensorCore
import Testing
import TestSupport
import Training
@testable import Algorithms

/// The checks every registered algorithm passes, derived from the registry: a new rule enters
/// each of them by registering, with no edit here.
enum Conformance {
    /// One algorithm as the checks run it: a small network of its default kind on matching data.
    struct Case: CustomTestStringConvertible, Sendable {
        let id: String
        let isCNN: Bool
        var testDescription: String { id }

        var data: DataSplits { isCNN ? CascadedForwardTests.data : AlgorithmBehaviourTests.data }

        func build(seed: UInt64 = 1, learningRate: Double? = nil) -> any TrainingAlgorithm {
            try! AlgorithmRegistry.make(id: id, architecture: isCNN ? .cnn(channels: [4, 8]) : .mlp(hiddenWidths: [16, 16]),
                                        inputShape: isCNN ? [2, 10, 10] : [16], classCount: 4,
                                        common: CommonHyperparameters(learningRate: learningRate, batchSize: 32), seed: seed).algorithm
        }

        /// The training split of each stage of `algorithm`, asked for in stage order as the
        /// trainer does (CaFo's predictors train on cached block features).
        func trainingSets(_ algorithm: any TrainingAlgorithm) -> [Dataset] {
            algorithm.stages.indices.map { algorithm.stageData($0, from: data)?.train ?? data.train }
        }

        /// The rule's default learning rate, raised to 3e-3 so that twelve epochs suffice.
        var learningRate: Double {
            let defaults = try! AlgorithmRegistry.hyperparameters(for: id)
            return max(3e-3, defaults.real("learning_rate"))
        }

        var role: AlgorithmDescriptor.Role { (try? AlgorithmRegistry.descriptor(for: id))?.role ?? .rule }
    }

    /// Every registered algorithm (a variant-only one, such as CaFo, by its first declared comparison's id).
    static var cases: [Case] {
        AlgorithmRegistry.all.map { type in
            let id = type.comparisons.first?.id ?? type.id
            if case .cnn = type.defaultArchitecture { return Case(id: id, isCNN: true) }
            return Case(id: id, isCNN: false)
        }
    }

    static func trainer(epochs: Int, seed: UInt64 = 1) -> Trainer {
        Trainer(configuration: .init(stopping: StoppingRule(patience: 20, minDelta: 0, maxEpochs: epochs),
                                     batchSize: 32, evaluationBatchSize: 100, seed: seed))
    }

    /// Learns the synthetic task to 90 % in twelve epochs (a control, which trains its output layer
    /// only, to 70 %: three times chance).
    static func learns(_ c: Case) {
        let result = trainer(epochs: 12).fit(c.build(learningRate: c.learningRate), data: c.data)
        #expect(result.status == .completed, "\(c.id)")
        #expect((result.testAccuracy ?? 0) >= (c.role == .control ? 0.7 : 0.9), "\(c.id): \(result.testAccuracy ?? -1)")
    }

    /// The same seed gives the same losses.
    static func isDeterministic(_ c: Case) {
        func run() -> [Double] { trainer(epochs: 2, seed: 9).fit(c.build(seed: 9), data: c.data).epochs.map(\.trainLoss) }
        let first = run()
        #expect(first.count >= 2, "\(c.id)")
        #expect(first == run(), "\(c.id)")
    }

    /// A step of stage s changes exactly the parameters stage s owns (among every stage's).
    static func respectsItsStages(_ c: Case) {
        let algorithm = c.build()
        for (stage, train) in c.trainingSets(algorithm).enumerated() {
            let batch = firstBatch(of: train, count: 32)
            let all = (0..<algorithm.stages.count).flatMap { algorithm.parameters(of: $0) }
            let before = values(all)
            _ = algorithm.trainBatch(batch, stage: stage)
            let after = values(all)
            let owned = Set(algorithm.parameters(of: stage).map(\.name))
            #expect(!owned.isEmpty, "\(c.id) stage \(stage) owns no parameters")
            for name in before.keys where !owned.contains(name) { #expect(before[name] == after[name], "\(c.id): \(name) must not change") }
            #expect(owned.contains { before[$0] != after[$0] }, "\(c.id) stage \(stage) changed nothing")
        }
    }

    /// After three batches, training steps of the last stage allocate no tensors.
    static func allocatesNothingPerBatch(_ c: Case) {
        let algorithm = c.build()
        let stage = algorithm.stages.count - 1
        let train = c.trainingSets(algorithm)[stage]
        var schedule = BatchSchedule(count: train.count, batchSize: 32, order: .shuffledDroppingLast)
        var generator = SeededGenerator(seed: 1)
        schedule.startEpoch(using: &generator)
        var batch = Batch()
        let loss = LossSum()
        for index in 0..<3 {
            schedule.fill(&batch, index: index, from: train)
            algorithm.trainBatch(batch, stage: stage, loss: loss)
        }
        let allocations = OperationCounter.counting { counter in
            for index in 3..<8 {
                schedule.fill(&batch, index: index, from: train)
                algorithm.trainBatch(batch, stage: stage, loss: loss)
            }
            return counter.allocations
        }
        #expect(allocations == 0, "\(c.id)")
    }

    /// A training step counts its products: at least one product of the batch with every weight
    /// matrix it trains (2·N·size each), whatever else the rule does.
    static func countsItsFLOPs(_ c: Case) {
        let algorithm = c.build()
        for (stage, train) in c.trainingSets(algorithm).enumerated() {
            let batch = firstBatch(of: train, count: 32)
            let step = OperationCounter.counting { counter in _ = algorithm.trainBatch(batch, stage: stage); return counter.flops }
            let weights = algorithm.parameters(of: stage).filter { $0.value.shape.count >= 2 }.reduce(0) { $0 + $1.value.count }
            #expect(step >= 2 * 32 * weights && weights > 0, "\(c.id) stage \(stage): \(step) FLOPs for \(weights) weights")
        }
    }

    /// A trained model's state, through a safetensors file into a model built from another
    /// seed, predicts as the trained one: `modelState` holds everything inference reads (frozen
    /// random layers and batch-norm statistics included), each name once.
    static func savedStateRebuildsTheModel(_ c: Case) throws {
        let trained = c.build(learningRate: c.learningRate)
        _ = trainer(epochs: 2).fit(trained, data: c.data)
        let names = trained.modelState.map(\.name)
        #expect(Set(names).count == names.count, "\(c.id): a name twice in \(names)")
        let file = SafeTensors(tensors: Dictionary(uniqueKeysWithValues: trained.modelState.map {
            ($0.name, SafeTensors.Entry(shape: $0.portableShape, scalars: $0.portableValue.scalars))
        }))
        let read = try SafeTensors(decoding: try file.encoded())
        let rebuilt = c.build(seed: 2, learningRate: c.learningRate)
        for state in rebuilt.modelState {
            let entry = try #require(read.tensors[state.name], "\(c.id): \(state.name)")
            state.portableValue = Tensor(shape: entry.shape, scalars: entry.scalars)
        }
        for split in [c.data.train, c.data.validation, c.data.test] {
            let batch = firstBatch(of: split, count: split.count)
            #expect(rebuilt.countCorrect(batch) == trained.countCorrect(batch), "\(c.id)")
        }
    }
}

@Suite struct RegistryConformanceTests {
    @Test(arguments: Conformance.cases) func learnsASyntheticTask(_ c: Conformance.Case) { Conformance.learns(c) }
    @Test(arguments: Conformance.cases) func isDeterministicForASeed(_ c: Conformance.Case) { Conformance.isDeterministic(c) }
    @Test(arguments: Conformance.cases) func aStepChangesOnlyItsStagesParameters(_ c: Conformance.Case) { Conformance.respectsItsStages(c) }
    @Test(arguments: Conformance.cases) func steadyStateTrainingAllocatesNoTensors(_ c: Conformance.Case) { Conformance.allocatesNothingPerBatch(c) }
    @Test(arguments: Conformance.cases) func aTrainingStepCountsItsProducts(_ c: Conformance.Case) { Conformance.countsItsFLOPs(c) }
    @Test(arguments: Conformance.cases) func itsSavedStateRebuildsTheModel(_ c: Conformance.Case) throws { try Conformance.savedStateRebuildsTheModel(c) }

    /// The suites the declarations give: the study's configurations exactly in seed-paper (not
    /// bpfree's additions: MF on the CNN, DFA and the newer rules), every rule in quick.
    /// The rules touch memory only through TensorCore's primitives, so that every rule runs on
    /// whichever device implements them: no raw pointer in Sources/Algorithms.
    @Test func noRuleUsesARawPointer() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/Algorithms")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".swift") }
        #expect(files.count >= 15)
        for file in files {
            let text = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
            #expect(!text.contains("Unsafe") && !text.contains("withUnsafe"), "\(file) uses a raw pointer")
        }
    }

    @Test func theSuitesFollowTheDeclarations() {
        let seedPaper = Benchmark.Suite.seedPaper.comparisons.map { "\($0.algorithm) \($0.architecture) \($0.datasets.sorted())" }
        #expect(seedPaper.sorted() == [
            "cafo-dfa-ce cnn-3block [\"cifar10\", \"cifar100\", \"fashion-mnist\", \"mnist\"]",
            "cafo-rand-ce cnn-3block [\"cifar10\", \"cifar100\", \"fashion-mnist\", \"mnist\"]",
            "ff mlp-3x1000 [\"mnist\"]", "ff mlp-4x2000 [\"fashion-mnist\", \"mnist\"]",
            "mf mlp-2x1000 [\"fashion-mnist\", \"mnist\"]", "mf mlp-3x2000 [\"cifar10\", \"cifar100\"]",
        ])
        let quick = Set(Benchmark.Suite.quick.comparisons.map(\.algorithm))
        for type in AlgorithmRegistry.all where type.role == .rule { #expect(quick.contains { (try? AlgorithmRegistry.algorithm($0).id) == type.id }, "\(type.id)") }
        #expect(Benchmark.Suite.scaling.comparisons.count == 8 * AlgorithmRegistry.all.filter { t in
            if case .mlp = t.defaultArchitecture { return t.role != .control } else { return false }
        }.count)
    }

    /// A rule registered in a test enters the registry, every suite, every conformance check,
    /// the algorithm listing and a report's comparison, with its control, by registering alone.
    @Test func aRegisteredToyRuleEntersEverySuiteCheckAndReport() throws {
        try AlgorithmRegistry.including([ToyRule.self]) {
            #expect(AlgorithmRegistry.ids.contains("toy"))
            for suite in [Benchmark.Suite.full, .quick, .scaling] {
                #expect(suite.comparisons.contains { $0.algorithm == "toy" }, "\(suite.name)")
            }
            #expect(!Benchmark.Suite.seedPaper.comparisons.contains { $0.algorithm == "toy" }, "the study did not run it")
            let arms = Benchmark(suite: .quick, seed: 1, threads: 1).arms(algorithms: ["toy"]).arms.map(\.study.algorithm)
            #expect(arms == ["toy", "bp", "shallow"])
            let toy = try #require(Conformance.cases.first { $0.id == "toy" })
            Conformance.learns(toy)
            Conformance.isDeterministic(toy)
            Conformance.respectsItsStages(toy)
            Conformance.allocatesNothingPerBatch(toy)
            Conformance.countsItsFLOPs(toy)
            try Conformance.savedStateRebuildsTheModel(toy)

            let store = try ResultsStore(path: IDXFiles.temporaryFolder() + "/toy.sqlite")
            for (algorithm, accuracy) in [("bp", 0.89), ("toy", 0.84), ("shallow", 0.83)] {
                for seed: UInt64 in 1...2 {
                    var record = RunRecord.example(algorithm: algorithm, seed: seed, accuracy: accuracy)
                    record.descriptor = try AlgorithmRegistry.descriptor(for: algorithm)
                    _ = try store.insert(StoredRun(record))
                }
            }
            let comparison = try #require(try ReportData(store: store).comparisons.first)
            #expect(comparison.arms.map(\.algorithm) == ["bp", "toy", "shallow"])
            #expect(comparison.baseline?.algorithm == "bp")
            let toyArm = try #require(comparison.arms.first { $0.algorithm == "toy" })
            #expect(FairnessAudit.whyNotAFinding(toyArm, in: comparison)?.contains("no better than the shallow control") == true)
        }
        #expect(!AlgorithmRegistry.ids.contains("toy"), "registered for that scope only")
    }
}

/// A toy rule: softmax regression on the input, in one file as a new rule would be.
final class ToyRule: RegisteredAlgorithm {
    static let id = "toy"
    static let control: String? = ShallowControl.id
    static let comparisons = [DeclaredComparison("toy", on: "mlp-2x1000", datasets: ["fashion-mnist"], quick: .init())]
    static let hyperparameterSpecs: [HyperparameterSpec] = [
        .real("learning_rate", 1e-2, "Adam learning rate").searched(logUniformIn: 1e-4...1e-1),
        .integer("batch_size", 32, "training batch size"),
    ]
    static let defaultArchitecture = Architecture.mlp(hiddenWidths: [1000, 1000])
    static let defaultCIFARArchitecture = Architecture.mlp(hiddenWidths: [1000, 1000])

    let layer: Linear
    let optimizer: Adam
    let loss = SoftmaxCrossEntropy()

    init(layer: Linear, learningRate: Float) {
        self.layer = layer
        optimizer = Adam(learningRate: learningRate)
    }

    static func make(architecture: Architecture, inputShape: [Int], classCount: Int, hyperparameters: Hyperparameters,
                     seed: UInt64) throws -> ToyRule {
        var generator = SeededGenerator(seed: seed, stream: "weights")
        return ToyRule(layer: Linear(inputSize: inputShape.reduce(1, *), outputSize: classCount, name: "output", using: &generator),
                       learningRate: Float(hyperparameters.real("learning_rate")))
    }

    var stages: [Stage] { [Stage(name: "model")] }
    func parameters(of stage: Int) -> [Parameter] { layer.parameters }

    func trainBatch(_ batch: Batch, stage: Int, loss total: LossSum) {
        loss.lossAndGradient(logits: layer.forward(batch.inputs, mode: .training), of: batch, addingMeanTo: total)
        _ = layer.backward(loss.gradient, inputGradient: .notNeeded)
        optimizer.step(layer.parameters)
    }

    func validate(_ batch: Batch, stage: Int, into sums: EvaluationSums) {
        SoftmaxCrossEntropy.evaluate(logits: layer.forward(batch.inputs, mode: .inference), of: batch, into: sums)
    }

    func countCorrect(_ batch: Batch) -> Int { validate(batch, stage: 0).correct }
}
