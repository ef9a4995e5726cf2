import Algorithms
import Foundation
import Metering
import Records
import Training

extension RunRecord {
    /// The record of a trainer's result.
    init(_ result: TrainingResult, configuration: RunConfiguration, built: AlgorithmRegistry.Built, classCount: Int, startedAt: String,
         stopping: StoppingRule) {
        self.init(algorithm: configuration.algorithm, dataset: configuration.dataset, architecture: built.architecture.description,
                  seed: configuration.seed, status: result.status)
        descriptor = try? AlgorithmRegistry.descriptor(for: configuration.algorithm)
        role = configuration.origin.role
        study = configuration.origin.study
        trialNumber = configuration.origin.trialNumber
        comparison = configuration.origin.comparison
        let window = result.window
        let seconds = max(window.seconds, 1e-9)
        hyperparameters = built.hyperparameters.values
        self.stopping = .init(stopping)
        trainingProtocol = configuration.trainingProtocol
        trainLimit = configuration.trainLimit
        self.classCount = classCount
        epochs = result.epochs
        stages = result.stages
        effectiveEpochs = result.effectiveEpochs
        bestEpoch = result.bestEpoch
        failureReason = result.failureReason
        testAccuracy = result.testAccuracy
        trainSeconds = window.seconds
        trainSamples = window.trainSamples
        samplesPerSecond = Double(window.trainSamples) / seconds
        trainFlops = window.flops
        forwardFlopsPerSample = result.forwardFLOPsPerSample
        flopsPerSecond = Double(window.flops) / seconds
        peakRSSBytes = window.peakRSSBytes
        peakTensorBytes = window.peakTensorBytes
        peakDeviceBytes = window.peakDeviceBytes
        threads = configuration.threads
        environment = .current()
        environment?.device = configuration.device.description
        environment?.gpu = ComputeDevice.gpuInfo(configuration.device, math: configuration.gpuMath)
        self.startedAt = startedAt
        peakRSSMethod = window.peakRSSWasReset ? .vmhwm : .sampled
        if window.peakRSSWasReset { peakRSSAboveStartBytes = max(0, window.peakRSSBytes - window.startRSSBytes) }
    }

    /// Adds a measurement window's energy, CO2e and trace summary.
    mutating func attach(_ measured: MeasurementResult, intensity: CarbonIntensity, meters: [any EnergyMeter],
                         configuration: MeasurementConfiguration) {
        energyJoules = measured.energyJoules
        energySource = measured.energySource
        energyByMeter = measured.energyByMeter
        energyModel = measured.energySource == "estimate" ? meters.compactMap { ($0 as? EstimateMeter)?.constants }.first : nil
        co2eGrams = intensity.grams(forJoules: measured.energyJoules)
        carbonIntensityGPerKWh = intensity.gramsPerKWh
        carbonIntensitySource = intensity.source
        traceHz = configuration.traceHz
        traceSamples = measured.rows.count
        traceSummary = measured.summary
        traceOverheadSeconds = measured.samplerSeconds
        windowContention = measured.contention
        if peakRSSMethod == .sampled { peakRSSBytes = max(peakRSSBytes, Int(measured.sampledPeakResidentBytes)) }
    }

    /// Writes the record to `path` atomically (a temporary file renamed into place).
    public func write(to path: String) throws {
        let url = URL(fileURLWithPath: path)
        do {
            try jsonData().write(to: url, options: .atomic)
        } catch {
            throw ConfigurationError(field: "--output", problem: "cannot write \(path): \(error.localizedDescription)")
        }
    }
}
