import Datasets
import NeuralNetwork
import Records
import TensorCore

/// The one training loop: epochs, batching, validation, early stopping per stage, best-checkpoint
/// restore, divergence handling and the measurement window. Algorithms only train batches.
public final class Trainer {
    /// How the trainer batches, stops and seeds.
    public struct Configuration: Sendable {
        /// The stopping rule applied to every stage.
        public var stopping: StoppingRule
        /// Rules of their own for stages whose name starts with the key (e.g. "blocks", "layer").
        public var stageStopping: [String: StoppingRule] = [:]

        /// Which weights every stage keeps when it stops.
        public var restore = Restore.best
        /// Restore rules of their own for stages whose name starts with the key.
        public var stageRestore: [String: Restore] = [:]

        /// The rule of a stage: its own, or the common one.
        public func rule(forStage name: String) -> StoppingRule {
            stageStopping.first { name.hasPrefix($0.key) }?.value ?? stopping
        }

        /// The restore rule of a stage: its own, or the common one.
        public func restore(forStage name: String) -> Restore {
            stageRestore.first { name.hasPrefix($0.key) }?.value ?? restore
        }
        /// Training batch size (the last incomplete batch is dropped).
        public var batchSize: Int
        /// Batch size of validation and test passes (no effect on results, only on speed and
        /// memory): by default the training batch size, so that evaluation reuses the buffers the
        /// layers hold for training instead of allocating a second, larger set (1000 CNN images
        /// took 1.75 GiB of im2col buffers).
        public var evaluationBatchSize: Int
        /// Seeds the per-epoch shuffling.
        public var seed: UInt64

        /// A configuration; evaluation batches default to the training batch size.
        public init(stopping: StoppingRule = .harmonized, batchSize: Int, evaluationBatchSize: Int? = nil, seed: UInt64) {
            self.stopping = stopping
            self.batchSize = batchSize
            self.evaluationBatchSize = evaluationBatchSize ?? batchSize
            self.seed = seed
        }
    }

    public let configuration: Configuration
    /// Observers notified of batches, epochs and the window, in order.
    public var observers: [any TrainingObserver]

    /// A trainer with the given settings.
    public init(configuration: Configuration, observers: [any TrainingObserver] = []) {
        self.configuration = configuration
        self.observers = observers
    }

    /// Trains every stage of `algorithm` to its stop, restores the best checkpoints and
    /// measures the test accuracy (outside the window).
    public func fit(_ algorithm: any TrainingAlgorithm, data: DataSplits) -> TrainingResult {
        var result = TrainingResult()
        guard data.train.count >= configuration.batchSize else {
            result.stop(.failed, reason: "the training set has \(data.train.count) samples, fewer than one batch of \(configuration.batchSize)")
            return result
        }
        guard data.validation.count > 0 else {
            result.stop(.failed, reason: "the validation set is empty")
            return result
        }

        // The measurement window opens here: from the first training batch to the stop.
        NumericLibraries.warmUp()
        observers.forEach { $0.windowDidStart() }
        result.window.peakRSSWasReset = ProcessMemory.resetPeak()
        result.window.startRSSBytes = ProcessMemory.residentBytes
        TensorMemory.resetPeak()
        let device = data.train.inputs.backend
        device?.resetPeak()
        let clock = ContinuousClock()
        let windowStart = clock.now
        let windowCounter = OperationCounter.counting { counter in
            trainStages(algorithm, data: data, result: &result)
            return counter
        }

        // The window closes at the stop; the test evaluation is outside it.
        result.window.seconds = (clock.now - windowStart).seconds
        result.window.flops = windowCounter.flops
        result.window.peakTensorBytes = TensorMemory.peakBytes
        result.window.peakDeviceBytes = device?.peakBytes
        result.window.peakRSSBytes = ProcessMemory.peakResidentBytes
        observers.forEach { $0.windowDidEnd() }

        guard result.status == .completed, data.test.count > 0 else { return result }
        let test = OperationCounter.counting { counter in
            (evaluate(data.test) { batch, sums in sums.add(lossSum: 0, correct: algorithm.countCorrect(batch)) }, counter.flops)
        }
        result.testAccuracy = Double(test.0.correct) / Double(data.test.count)
        result.forwardFLOPsPerSample = Double(test.1) / Double(data.test.count)
        return result
    }

    /// Every stage to its stop, each restored to its best checkpoint; failures end the loop.
    private func trainStages(_ algorithm: any TrainingAlgorithm, data: DataSplits, result: inout TrainingResult) {
        var shuffler = SeededGenerator(seed: configuration.seed, stream: "shuffle")
        var schedule = BatchSchedule(count: data.train.count, batchSize: configuration.batchSize, order: .shuffledDroppingLast)
        var scheduledCount = data.train.count
        var batch = Batch()
        let stages = algorithm.stages
        let clock = ContinuousClock()
        var augmenter = SeededGenerator(seed: configuration.seed, stream: "augmentation")
        var augmentationScratch = Tensor(zeros: [0])
        // The epoch's summed batch losses, on the device that computes them; read once an epoch
        // and for a progress event at most ten times a second.
        let epochLoss = LossSum()
        var lastProgress = clock.now
        stageLoop: for (stageIndex, stage) in stages.enumerated() {
            var rule = configuration.rule(forStage: stage.name)
            if let limit = stage.epochLimit { rule.maxEpochs = min(rule.maxEpochs, limit) }
            var stopper = EarlyStopping(rule: rule)
            let restore = configuration.restore(forStage: stage.name)
            var (restoredEpoch, bestAccuracy) = (0, -Double.infinity)
            let (train, validation) = algorithm.stageData(stageIndex, from: data) ?? (data.train, data.validation)
            if train.count != scheduledCount {
                schedule = BatchSchedule(count: train.count, batchSize: configuration.batchSize, order: .shuffledDroppingLast)
                scheduledCount = train.count
            }
            var checkpoint: [Tensor]?
            defer {
                // Restore the stage's best checkpoint before the next stage or the test.
                if let checkpoint {
                    for (state, value) in zip(algorithm.state(of: stageIndex), checkpoint) { state.value = value }
                }
                result.stages.append(StageRecord(name: stage.name, epochs: stopper.epoch, bestEpoch: stopper.bestEpoch,
                                                 bestValidationLoss: stopper.bestEpoch > 0 ? stopper.bestLoss : nil,
                                                 note: algorithm.stageNote(stageIndex), stopping: .init(rule),
                                                 restore: restore.rawValue, restoredEpoch: restoredEpoch))
            }
            while !stopper.shouldStop {
                let epochStart = clock.now
                let epoch = stopper.epoch + 1
                schedule.startEpoch(using: &shuffler)
                algorithm.epochWillStart(epoch, maxEpochs: rule.maxEpochs, stage: stageIndex)
                epochLoss.reset()
                for index in 0..<schedule.batchCount {
                    // One step: on a card, its calls may run as one graph.
                    func step() {
                        schedule.fill(&batch, index: index, from: train)
                        train.augmentation?.apply(to: &batch.inputs, sampleShape: train.sampleShape,
                                                       scratch: &augmentationScratch, key: augmenter.next())
                        algorithm.trainBatch(batch, stage: stageIndex, loss: epochLoss)
                    }
                    if let device = train.inputs.backend { device.step(step) } else { step() }
                    // On the host the sum is at hand: a divergence stops at its batch. On a device
                    // it is found at the epoch's end, with no wait per batch.
                    if epochLoss.isOnHost, case let loss = epochLoss.value, !loss.isFinite {
                        result.stop(.failed, reason: "diverged: training loss is \(loss) at stage \(stage.name), epoch \(epoch), batch \(index + 1)")
                        break stageLoop
                    }
                    result.window.trainSamples += batch.labels.count
                    if !observers.isEmpty {
                        let now = clock.now
                        if now - lastProgress >= .milliseconds(100) || index + 1 == schedule.batchCount {
                            lastProgress = now
                            let elapsed = (now - epochStart).seconds
                            let progress = BatchProgress(stage: stage.name, stageIndex: stageIndex, stageCount: stages.count,
                                                         epoch: epoch, maxEpochs: rule.maxEpochs, batch: index + 1,
                                                         batchCount: schedule.batchCount, batchSize: configuration.batchSize,
                                                         loss: epochLoss.isOnHost ? Float(epochLoss.value / Double(index + 1)) : nil,
                                                         samplesPerSecond: Double((index + 1) * configuration.batchSize) / max(elapsed, 1e-9))
                            observers.forEach { $0.batchDidEnd(progress) }
                        }
                        if let reason = observers.lazy.compactMap({ $0.interruptReason() }).first {
                            result.stop(.interrupted, reason: reason)
                            break stageLoop
                        }
                    }
                }
                let trainLoss = epochLoss.value / Double(schedule.batchCount)
                guard trainLoss.isFinite else {
                    result.stop(.failed, reason: "diverged: training loss is \(trainLoss) at stage \(stage.name), epoch \(epoch)")
                    break stageLoop
                }
                algorithm.epochDidEnd(epoch, stage: stageIndex)
                let validationStart = clock.now
                let validationSums = evaluate(validation) { algorithm.validate($0, stage: stageIndex, into: $1) }
                let validationLoss = validationSums.lossSum / Double(validation.count)
                guard validationLoss.isFinite else {
                    result.stop(.failed, reason: "diverged: validation loss is \(validationLoss) at stage \(stage.name), epoch \(epoch)")
                    break stageLoop
                }
                let validationAccuracy = Double(validationSums.correct) / Double(validation.count)
                let improved = stopper.record(validationLoss: validationLoss, validationAccuracy: validationAccuracy)
                switch restore {
                case .best where improved,
                     .bestValidationAccuracy where validationAccuracy > bestAccuracy:
                    checkpoint = algorithm.state(of: stageIndex).map(\.value)
                    (restoredEpoch, bestAccuracy) = (epoch, max(bestAccuracy, validationAccuracy))
                case .last:
                    restoredEpoch = epoch
                default:
                    break
                }
                let record = EpochRecord(stage: stage.name, epoch: epoch,
                                         trainLoss: trainLoss,
                                         validationLoss: validationLoss,
                                         validationAccuracy: validationAccuracy,
                                         seconds: (clock.now - epochStart).seconds,
                                         validationSeconds: (clock.now - validationStart).seconds)
                result.epochs.append(record)
                observers.forEach { $0.epochDidEnd(record, stageIndex: stageIndex, stageCount: stages.count, maxEpochs: rule.maxEpochs) }
                if let request = observers.lazy.compactMap({ $0.stopRequest() }).first {
                    result.stop(request.status, reason: request.reason)
                    break stageLoop
                }
            }
        }

    }

    /// Sums what `body` adds over `dataset` in order, in evaluation-sized batches; read once at the end.
    private func evaluate(_ dataset: Dataset, _ body: (Batch, EvaluationSums) -> Void) -> (lossSum: Double, correct: Int) {
        var schedule = BatchSchedule(count: dataset.count, batchSize: configuration.evaluationBatchSize, order: .sequential)
        var batch = Batch()
        let sums = EvaluationSums()
        for index in 0..<schedule.batchCount {
            // One batch: on a card, its calls may run as one graph, as a training step's do.
            func step() {
                schedule.fill(&batch, index: index, from: dataset)
                body(batch, sums)
            }
            if let device = dataset.inputs.backend { device.step(step) } else { step() }
        }
        return sums.value
    }
}
