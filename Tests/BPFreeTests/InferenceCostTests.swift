import Algorithms
import Datasets
import Experiments
import Foundation
import Metering
import Records
import Testing
import TestSupport

/// Issue: the cost of inference, measured after every run with the tested model.
@Suite struct InferenceCostTests {
    static let data = SyntheticDataset.splits(train: 400, validation: 100, test: 300, features: 16, classes: 4, noise: 0.4, seed: 3)

    /// FF predicts with one pass per candidate label: its FLOPs per prediction are C times one
    /// forward pass of its network (2·Σ in·out per row); MF's are one pass with its last projection.
    @Test func flopsPerPredictionAreCountedAsTheInferenceRuns() throws {
        func measure(_ id: String) throws -> InferenceRecord {
            let built = try AlgorithmRegistry.make(id: id, architecture: .mlp(hiddenWidths: [16, 8]), inputShape: [16], classCount: 4, seed: 1)
            return try #require(InferenceCost.measure(built.algorithm, test: Self.data.test, meters: [], minimumSeconds: 0.01, latencySeconds: 0.05))
        }
        let onePass = 2.0 * Double(16 * 16 + 16 * 8)
        #expect(try measure("ff").flopsPerPrediction == 4 * onePass)
        #expect(try measure("mf").flopsPerPrediction == onePass + 2 * Double(8 * 4))
        let bp = try measure("bp")
        #expect(bp.flopsPerPrediction == onePass + 2 * Double(8 * 4))
        #expect(bp.batchSize == 300 && bp.predictions >= 300 && bp.samplesPerSecond > 0)
        #expect(bp.latencyRepetitions > 0 && bp.latencyP95Ms >= bp.latencyMedianMs && bp.latencyMedianMs > 0)
        #expect(bp.energyJoulesPer10k == nil && bp.energySource == nil, "no meter given: no energy figure")
    }

    /// A `bpfree train` record carries the inference fields, with the estimate's source here.
    @Test func aTrainRecordCarriesTheInferenceFields() throws {
        let folder = IDXFiles.temporaryFolder()
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("bpfree").path
        try PythonEnvironment.run(binary, ["train", "--algorithm", "mf", "--dataset", "synthetic", "--epochs", "2", "--threads", "1",
                                           "--no-store", "--output", folder + "/mf.json"])
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/mf.json"))) as! [String: Any]
        let inference = try #require(json["inference"] as? [String: Any])
        #expect(Set(inference.keys) == ["batch_size", "samples_per_second", "predictions", "latency_median_ms", "latency_p95_ms",
                                        "latency_repetitions", "flops_per_prediction", "energy_joules_per_10k", "energy_source", "peak_rss_bytes",
                                        "latency_contention"])
        // What else ran while the latencies were timed, as the record keeps it.
        let contention = try #require(inference["latency_contention"] as? [String: Any])
        #expect(Set(contention.keys) == ["seconds", "other_cpu_seconds", "steal_seconds", "contended"])
        #expect((contention["seconds"] as? Double ?? 0) > 0 && contention["contended"] is Bool)
        #expect(inference["batch_size"] as? Int == 1000 && (inference["energy_joules_per_10k"] as? Double ?? 0) > 0)
        #expect(inference["energy_source"] as? String == json["energy_source"] as? String)
        #expect(inference["flops_per_prediction"] as? Double == json["forward_flops_per_sample"] as? Double)
    }
}
