import Algorithms
import Datasets
import NeuralNetwork
import TensorCore
import Records
import Testing
import Training

/// Behaviour of the one Trainer with BP on small synthetic tasks.
@Suite struct TrainerTests {
    static let data = SyntheticDataset.splits(train: 1024, validation: 256, test: 512, features: 16, classes: 4,
                                              noise: 0.4, seed: 3)

    static func bp(seed: UInt64, learningRate: Double = 3e-3, widths: [Int] = [32]) -> Backpropagation {
        var generator = SeededGenerator(seed: seed, stream: "weights")
        let network = try! Architecture.mlp(hiddenWidths: widths).makeNetwork(inputShape: [16], classCount: 4, using: &generator)
        let hyperparameters = try! Hyperparameters(prefix: "bp", specs: Backpropagation.hyperparameterSpecs,
                                                   common: CommonHyperparameters(learningRate: learningRate, batchSize: 32))
        return Backpropagation(network: network, hyperparameters: hyperparameters)
    }

    static func trainer(epochs: Int = 10, patience: Int = 20, seed: UInt64 = 1) -> Trainer {
        Trainer(configuration: .init(stopping: StoppingRule(patience: patience, minDelta: 0, maxEpochs: epochs),
                                     batchSize: 32, evaluationBatchSize: 100, seed: seed))
    }

    @Test func bpLearnsASyntheticTask() {
        let result = Self.trainer(epochs: 15).fit(Self.bp(seed: 1), data: Self.data)
        #expect(result.status == .completed)
        #expect((result.testAccuracy ?? 0) >= 0.95)
        #expect(result.effectiveEpochs == 15)
        #expect(result.window.trainSamples == 15 * 32 * 32)
        #expect(result.window.flops > 0)
        #expect(result.window.seconds > 0)
        // The window's resident memory is measured. (Not "its start under its peak": the
        // high-water mark is the process's, and tests training in parallel in this process reset
        // it too, so it can fall below this window's start; a run alone in its process — every
        // bpfree run is — keeps that order.)
        #expect(result.window.startRSSBytes > 0 && result.window.peakRSSBytes > 0)
        // Forward FLOPs of a 16→32→4 MLP per sample: 2·(16·32 + 32·4).
        #expect(result.forwardFLOPsPerSample == Double(2 * (16 * 32 + 32 * 4)))
    }

    @Test func sameSeedGivesIdenticalRuns() {
        let a = Self.trainer(epochs: 3).fit(Self.bp(seed: 5), data: Self.data)
        let b = Self.trainer(epochs: 3).fit(Self.bp(seed: 5), data: Self.data)
        #expect(a.epochs.map(\.trainLoss) == b.epochs.map(\.trainLoss))
        #expect(a.epochs.map(\.validationLoss) == b.epochs.map(\.validationLoss))
        let c = Self.trainer(epochs: 3, seed: 6).fit(Self.bp(seed: 6), data: Self.data)
        #expect(a.epochs.map(\.trainLoss) != c.epochs.map(\.trainLoss))
    }

    @Test func stopsAfterPatienceAndRestoresTheBestCheckpoint() {
        // A large learning rate makes validation loss bounce, so patience 2 stops early.
        let algorithm = Self.bp(seed: 2, learningRate: 0.05, widths: [64])
        let result = Self.trainer(epochs: 40, patience: 2).fit(algorithm, data: Self.data)
        let stage = result.stages[0]
        #expect(stage.epochs == stage.bestEpoch + 2 || stage.epochs == 40)
        #expect(result.effectiveEpochs == result.epochs.count)
        let best = result.epochs.map(\.validationLoss).min()!
        #expect(stage.bestValidationLoss == best)
        #expect(result.epochs[stage.bestEpoch - 1].validationLoss == best)
        // The restored model reproduces the best epoch's validation loss.
        var total = 0.0
        var schedule = BatchSchedule(count: Self.data.validation.count, batchSize: 100, order: .sequential)
        var batch = Batch()
        for index in 0..<schedule.batchCount {
            schedule.fill(&batch, index: index, from: Self.data.validation)
            total += algorithm.validate(batch, stage: 0).lossSum
        }
        #expect(abs(total / Double(Self.data.validation.count) - best) < 1e-9)
    }

    /// A checkpoint holds the batch-norm running statistics with the weights: the restored CNN
    /// predicts with the best epoch's statistics, so it reproduces that epoch's validation loss.
    @Test func theRestoredCheckpointKeepsItsBatchNormStatistics() throws {
        var data = SyntheticDataset.splits(train: 512, validation: 128, test: 64, features: 128, classes: 4, noise: 0.8, seed: 4)
        for keyPath in [\DataSplits.train, \DataSplits.validation, \DataSplits.test] { data[keyPath: keyPath].sampleShape = [2, 8, 8] }
        let algorithm = try AlgorithmRegistry.make(id: "bp", architecture: .cnn(channels: [4, 8]), inputShape: [2, 8, 8], classCount: 4,
                                                   common: CommonHyperparameters(learningRate: 0.05, batchSize: 32), seed: 3).algorithm
        let result = Self.trainer(epochs: 12, patience: 3).fit(algorithm, data: data)
        let stage = result.stages[0]
        #expect(stage.bestEpoch < result.epochs.count, "the run went on past its best epoch")
        let best = result.epochs[stage.bestEpoch - 1].validationLoss
        var schedule = BatchSchedule(count: data.validation.count, batchSize: 100, order: .sequential)
        var (batch, total) = (Batch(), 0.0)
        for index in 0..<schedule.batchCount {
            schedule.fill(&batch, index: index, from: data.validation)
            total += algorithm.validate(batch, stage: 0).lossSum
        }
        #expect(abs(total / Double(data.validation.count) - best) < 1e-9)
    }

    @Test func divergenceStopsCleanlyAndFails() {
        let result = Self.trainer(epochs: 5).fit(Self.bp(seed: 1, learningRate: 1e30), data: Self.data)
        #expect(result.status == .failed)
        #expect(result.failureReason?.contains("diverged") == true)
        #expect(result.testAccuracy == nil)
        #expect(result.window.seconds > 0)
    }

    /// An observer asking to interrupt (a signal) stops the run at the batch boundary: the
    /// epochs finished are kept, the stage is recorded, nothing is tested.
    @Test func anInterruptStopsAtTheNextBatchBoundary() {
        final class Interrupter: TrainingObserver {
            var batches = 0
            func interruptReason() -> String? {
                batches += 1   // asked after every batch
                return batches >= 70 ? "interrupted by SIGTERM" : nil
            }
        }
        let interrupter = Interrupter()
        var trainer = Self.trainer(epochs: 10)
        trainer.observers = [interrupter]
        let result = trainer.fit(Self.bp(seed: 1), data: Self.data)
        // 1024 / 32 = 32 batches an epoch: two epochs finished, the third stopped after its 6th batch.
        #expect(result.status == .interrupted && result.failureReason == "interrupted by SIGTERM")
        #expect(result.epochs.count == 2 && result.window.trainSamples == 70 * 32)
        #expect(result.stages.count == 1 && result.stages[0].epochs == 2 && result.testAccuracy == nil)
    }

    @Test func aTrainingSetSmallerThanOneBatchFails() {
        var small = Self.data
        small.train = small.train.prefix(10)
        let result = Self.trainer().fit(Self.bp(seed: 1), data: small)
        #expect(result.status == .failed && result.failureReason == "the training set has 10 samples, fewer than one batch of 32")
    }

    @Test func flopCounterMatchesHandCountedGEMMsOfAnMLPStep() {
        // 16 → 32 → 32 → 4 MLP, batch 8: forward X·Wᵀ per layer, backward dW per layer,
        // dX for every layer but the first.
        let algorithm = Self.bp(seed: 1, widths: [32, 32])
        var batch = Batch()
        var schedule = BatchSchedule(count: Self.data.train.count, batchSize: 8, order: .sequential)
        schedule.fill(&batch, index: 0, from: Self.data.train)
        let flops = OperationCounter.counting { counter in
            _ = algorithm.trainBatch(batch, stage: 0)
            return counter.flops
        }
        let layers = [(16, 32), (32, 32), (32, 4)]
        let forward = layers.reduce(0) { $0 + 2 * 8 * $1.0 * $1.1 }
        let inputGradients = layers.dropFirst().reduce(0) { $0 + 2 * 8 * $1.0 * $1.1 }
        #expect(flops == forward + forward + inputGradients)
    }

    @Test func steadyStateTrainingAllocatesNoTensors() {
        let algorithm = Self.bp(seed: 1, widths: [32, 32])
        var schedule = BatchSchedule(count: Self.data.train.count, batchSize: 32, order: .shuffledDroppingLast)
        var generator = SeededGenerator(seed: 1)
        schedule.startEpoch(using: &generator)
        var batch = Batch()
        let loss = LossSum()
        for index in 0..<3 {
            schedule.fill(&batch, index: index, from: Self.data.train)
            algorithm.trainBatch(batch, stage: 0, loss: loss)
        }
        let allocated = OperationCounter.counting { counter in
            for index in 3..<schedule.batchCount {
                schedule.fill(&batch, index: index, from: Self.data.train)
                algorithm.trainBatch(batch, stage: 0, loss: loss)
            }
            return counter.allocations
        }
        #expect(allocated == 0)
    }
}

@Suite struct EarlyStoppingTests {
    /// Feeds losses to a fresh stopper; returns which were improvements and the final state.
    static func feed(_ losses: [Double], rule: StoppingRule) -> ([Bool], EarlyStopping) {
        var stopper = EarlyStopping(rule: rule)
        let improved = losses.map { stopper.record(validationLoss: $0) }
        return (improved, stopper)
    }

    @Test func countsPatienceFromTheBestEpoch() {
        let rule = StoppingRule(patience: 2, minDelta: 0, maxEpochs: 10)
        let (improved, stopper) = Self.feed([1.0, 0.9, 0.95, 0.9], rule: rule)
        // Equal is not an improvement with min_delta 0.
        #expect(improved == [true, true, false, false])
        #expect(stopper.shouldStop)
        #expect(stopper.bestEpoch == 2 && stopper.epoch == 4)
        #expect(!Self.feed([1.0, 0.9, 0.95], rule: rule).1.shouldStop)
    }

    @Test func minDeltaRequiresAMeaningfulImprovement() {
        let (improved, _) = Self.feed([1.0, 0.95, 0.85], rule: StoppingRule(patience: 5, minDelta: 0.1, maxEpochs: 10))
        #expect(improved == [true, false, true])
    }

    @Test func capStopsEvenWhileImproving() {
        let (improved, stopper) = Self.feed([3.0, 2.0, 1.0], rule: StoppingRule(patience: 20, minDelta: 0, maxEpochs: 3))
        #expect(improved == [true, true, true])
        #expect(stopper.shouldStop)
    }

    @Test func accuracyMonitorKeepsTheMostAccurateEpoch() {
        var stopper = EarlyStopping(rule: StoppingRule(patience: 2, minDelta: 0.01, maxEpochs: 10, monitor: .validationAccuracy))
        let improved = [(0.9, 0.50), (0.8, 0.505), (0.7, 0.52), (0.6, 0.525), (0.5, 0.528)].map {
            stopper.record(validationLoss: $0.0, validationAccuracy: $0.1)
        }
        // +0.5 pp is below min_delta 0.01; +2 pp is not; lower losses do not count.
        #expect(improved == [true, false, true, false, false])
        #expect(stopper.bestEpoch == 3 && stopper.bestValue == 0.52 && stopper.bestLoss == 0.7)
        #expect(stopper.shouldStop)
    }

    @Test func noMonitorRunsTheCapAndKeepsTheLastEpoch() {
        var stopper = EarlyStopping(rule: StoppingRule(patience: 3, minDelta: 0, maxEpochs: 3, monitor: .none))
        #expect([1.0, 2.0, 3.0].map { stopper.record(validationLoss: $0) } == [true, true, true])
        #expect(stopper.bestEpoch == 3 && stopper.shouldStop)
    }

    @Test func harmonizedRuleMatchesTheProtocol() {
        #expect(StoppingRule.harmonized == StoppingRule(patience: 20, minDelta: 0, maxEpochs: 100))
    }
}
