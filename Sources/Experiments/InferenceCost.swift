import Datasets
import Foundation
import Metering
import Records
import TensorCore
import Training

/// What a prediction costs with a trained model (issue: the cost of inference), measured on the
/// test split with the algorithm's own inference (`countCorrect`, as the test evaluation runs
/// it): throughput and energy at batch 1000 from the training run's meters, latency at batch 1,
/// counted FLOPs per prediction and the peak resident memory sampled meanwhile.
public enum InferenceCost {
    /// Samples per batch of the throughput measurement (fewer if the test split is smaller).
    public static let batchSize = 1000
    /// Batch-1 predictions timed one by one (fewer if the time below runs out).
    public static let latencyRepetitions = 200

    /// Measures `algorithm` on `test`: throughput batches until `minimumSeconds` have passed (at
    /// least one), then batch-1 latencies for at most `latencySeconds`.
    public static func measure(_ algorithm: any TrainingAlgorithm, test: Dataset, meters: [any EnergyMeter],
                               minimumSeconds: Double = 0.3, latencySeconds: Double = 1) -> InferenceRecord? {
        guard test.count > 0 else { return nil }
        let size = min(batchSize, test.count)
        var batch = Batch()
        var schedule = BatchSchedule(count: test.count, batchSize: size, order: .sequential)
        schedule.fill(&batch, index: 0, from: test)
        // The counted pass is also the warm-up: buffers sized, kernels chosen before the clock runs.
        let flops = OperationCounter.counting { counter in
            _ = algorithm.countCorrect(batch)
            return counter.flops
        }
        let session = MeasurementSession(meters: meters, traceHz: 10)
        let clock = ContinuousClock()
        session.start()
        let start = clock.now
        var predictions = 0, index = 0
        repeat {
            schedule.fill(&batch, index: index % schedule.batchCount, from: test)
            _ = algorithm.countCorrect(batch)
            predictions += batch.labels.count
            index += 1
        } while (clock.now - start).seconds < minimumSeconds
        let seconds = (clock.now - start).seconds
        let measured = session.stop()
        // Batch 1, each prediction timed alone, with what else ran meanwhile: a timing taken
        // under load is taken once more, and the calmer of the two is kept with its contention.
        var single = BatchSchedule(count: test.count, batchSize: 1, order: .sequential)
        func timeLatencies() -> (latencies: [Double], contention: Contention?) {
            var latencies: [Double] = []
            let contention = ContentionProbe.measure {
                let latencyStart = clock.now
                while latencies.count < latencyRepetitions, latencies.isEmpty || (clock.now - latencyStart).seconds < latencySeconds {
                    single.fill(&batch, index: latencies.count % test.count, from: test)
                    let began = clock.now
                    _ = algorithm.countCorrect(batch)
                    latencies.append((clock.now - began).seconds * 1000)
                }
            }
            return (latencies.sorted(), contention)
        }
        var (latencies, contention) = timeLatencies()
        if contention?.contended == true {
            let again = timeLatencies()
            if (again.contention?.otherCPUSeconds ?? .infinity) < contention!.otherCPUSeconds { (latencies, contention) = again }
        }
        func percentile(_ p: Double) -> Double { latencies[min(latencies.count - 1, Int((p * Double(latencies.count - 1)).rounded()))] }
        return InferenceRecord(batchSize: size, samplesPerSecond: Double(predictions) / max(seconds, 1e-9), predictions: predictions,
                               latencyMedianMs: percentile(0.5), latencyP95Ms: percentile(0.95), latencyRepetitions: latencies.count,
                               flopsPerPrediction: Double(flops) / Double(size),
                               energyJoulesPer10k: meters.isEmpty ? nil : measured.energyJoules * 10_000 / Double(predictions),
                               energySource: meters.isEmpty ? nil : measured.energySource,
                               peakRSSBytes: Int(max(measured.sampledPeakResidentBytes, ProcessStats.residentBytes)),
                               latencyContention: contention)
    }
}
