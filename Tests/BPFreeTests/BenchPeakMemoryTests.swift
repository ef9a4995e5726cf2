import Foundation
import Records
import Results
import Testing
import TestSupport

/// A bench's later runs do not carry the memory its earlier arms left: each trial and each final
/// run is a process of its own (IsolatedRun), so a small MLP's runs after a CNN's peak as the
/// same run alone does. In one process they did not (glibc, BLAS and oneDNN kept what the CNN
/// used, and the window's peak started from the resident set that held it: 120 MiB against
/// 56 MiB alone, and still +9 % once the heap was trimmed).
@Suite struct BenchPeakMemoryTests {
    @Test func aRunAfterACNNArmPeaksAsItsOwnRunAlone() throws {
        let folder = IDXFiles.temporaryFolder()
        let dataset = "synthetic:samples=1500,classes=3,shape=1x24x24"
        let (status, errors) = try BPFreeProcess.run([
            "bench", "--suite", "quick", "--algorithms", "cafo-rand-ce,fa", "--datasets", dataset, "--architecture", "cnn:16,32",
            "--architecture", "mlp:64", "--trials", "1", "--epochs", "1", "--final-epochs", "1", "--seeds", "1", "--threads", "1",
            "--store", folder + "/bench.sqlite"])
        #expect(status == 0, "\(errors)")
        let runs = try ResultsStore(path: folder + "/bench.sqlite").runs()
        // CaFo's and BP's CNN arms ran first, then FA's comparison (its BP arm on the MLP).
        #expect(runs.map(\.algorithm).firstIndex(of: "cafo-rand-ce")! < runs.map(\.algorithm).firstIndex(of: "fa")!)
        let inBench = try #require(runs.first { $0.role == .final && $0.algorithm == "bp" && $0.architecture == "mlp-1x64" })
        let alone = try BPFreeProcess.run(["train", "--algorithm", "bp", "--architecture", "mlp:64", "--dataset", dataset, "--epochs", "1",
                                           "--seed", "2", "--threads", "1", "--store", folder + "/bench.sqlite", "--output", folder + "/alone.json"])
        #expect(alone.status == 0, "\(alone.errors)")
        let record = try RunRecord.decoded(from: Data(contentsOf: URL(fileURLWithPath: folder + "/alone.json")))
        // The bar: the same within 5 %, as a bench's final run and as a tuning trial.
        let trials = runs.filter { $0.role == .trial && $0.algorithm == "bp" && $0.architecture == "mlp-1x64" }
        #expect(!trials.isEmpty)
        for run in [inBench] + trials {
            let ratio = Double(run.peakRSSBytes) / Double(record.peakRSSBytes)
            #expect(abs(ratio - 1) <= 0.05, "\(run.role) seed \(run.seed) \(run.peakRSSBytes) vs alone \(record.peakRSSBytes)")
        }
    }
}
