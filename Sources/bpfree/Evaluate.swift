import Algorithms
import ArgumentParser
import Experiments
import Foundation

/// `bpfree evaluate`: a saved model's test accuracy and what a prediction with it costs.
struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Test a model saved by train --save-model on its dataset's test split, and measure its inference cost.")

    @Option(help: ArgumentHelp("The model file (safetensors, from train --save-model).", valueName: "file.safetensors"))
    var model: String

    @Option(help: "The dataset (default: the model's; another is refused).")
    var dataset: String?

    @Option(help: "The algorithm (default: the model's; another is refused).")
    var algorithm: String?

    @Option(help: "The architecture (default: the model's; another is refused).")
    var architecture: String?

    @Option(help: "Folder with the dataset's files (default: $BPFREE_DATA, the cache, Debian's packages).")
    var dataDir: String?

    @Option(help: "BLAS and kernel threads (default: the number of cores).")
    var threads: Int?

    func run() throws {
        let result: ModelEvaluation.Result
        do {
            result = try ModelEvaluation.run(model: model, dataDirectory: dataDir, threads: threads ?? ProcessInfo.processInfo.activeProcessorCount,
                                             algorithm: algorithm, architecture: architecture, dataset: dataset)
        } catch let error as SavedModel.Mismatch {
            throw ValidationError(error.description)
        } catch let error as ConfigurationError {
            throw ValidationError(error.description)
        }
        let d = result.description
        var line = "\(d.algorithm) \(d.architecture) \(d.dataset) seed \(d.seed): test accuracy "
            + String(format: "%.2f%% (%d/%d)", result.accuracy * 100, result.correct, result.count)
        if let saved = result.savedAccuracy { line += String(format: ", saved with %.2f%%", saved * 100) }
        print(line)
        if let inference = result.inference {
            var cost = String(format: "inference: %.0f samples/s at batch %d, latency median %.3f ms (p95 %.3f ms) at batch 1, %.3g FLOPs per prediction, peak RSS %.0f MiB",
                              inference.samplesPerSecond, inference.batchSize, inference.latencyMedianMs, inference.latencyP95Ms,
                              inference.flopsPerPrediction, Double(inference.peakRSSBytes) / 1_048_576)
            if let energy = inference.energyJoulesPer10k, let source = inference.energySource {
                cost += String(format: ", %.3g J per 10k predictions", energy) + " (\(source))"
            }
            print(cost)
        }
    }
}
