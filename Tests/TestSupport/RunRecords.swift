import Records

extension RunRecord {
    /// A completed two-stage MF run on Fashion-MNIST, as the stores and reports tests use it.
    public static func example(algorithm: String = "mf", seed: UInt64, status: RunStatus = .completed,
                               accuracy: Double? = 0.9) -> RunRecord {
        var record = RunRecord(algorithm: algorithm, dataset: "fashion-mnist", architecture: "mlp-2x1000", seed: seed, status: status)
        let isBaseline = algorithm == "bp"
        record.descriptor = AlgorithmDescriptor(id: algorithm, family: algorithm, role: isBaseline ? .baseline : .rule,
                                                baseline: isBaseline ? nil : "bp", control: nil)
        record.startedAt = "2026-11-29T00:00:00Z"
        record.failureReason = status == .failed ? "diverged, at \"epoch\" 3" : nil
        record.testAccuracy = accuracy
        record.hyperparameters = ["learning_rate": .real(0.001)]
        record.stopping = Stopping(monitor: "val_loss", patience: 20, minDelta: 0, maxEpochs: 100)
        record.epochs = [
            EpochRecord(stage: "layer1", epoch: 1, trainLoss: 0.5, validationLoss: 0.4, validationAccuracy: 0.85, seconds: 3,
                        validationSeconds: 0.3),
            EpochRecord(stage: "layer2", epoch: 1, trainLoss: 0.3, validationLoss: 0.35, validationAccuracy: 0.88, seconds: 3.5,
                        validationSeconds: 0.3),
        ]
        record.stages = [StageRecord(name: "layer1", epochs: 1, bestEpoch: 1, bestValidationLoss: 0.4),
                         StageRecord(name: "layer2", epochs: 1, bestEpoch: 0, bestValidationLoss: nil)]
        record.effectiveEpochs = 2
        record.trainSeconds = 12.5
        record.samplesPerSecond = 1000
        record.trainFlops = 1 << 40
        record.energyJoules = 150
        record.energySource = "estimate"
        record.co2eGrams = 0.02
        record.peakRSSBytes = 300 << 20
        record.threads = 2
        record.environment = EnvironmentInfo(cpuModel: "AMD EPYC", cores: 2, blas: "OpenBLAS", blasCore: "Zen", blasCoreChoice: nil,
                                             convolution: nil, swiftVersion: "6.3", operatingSystem: "Debian", bpfreeVersion: "0.1.0")
        return record
    }
}
