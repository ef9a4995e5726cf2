import Foundation
import Records
import Results
import Testing
import TestSupport

/// `train --save-model` and `bpfree evaluate` on real Fashion-MNIST (Debian's package), checked
/// by PyTorch: the file loads with the `safetensors` package, the network is rebuilt from its
/// metadata alone in a few lines of PyTorch (`Scripts/safetensors_check.py`), and both give
/// bpfree's test accuracy on the same test split.
@Suite(.serialized) struct SavedModelTests {
    static let packages = ["torch==2.13.0+cpu", "safetensors==0.8.0", "numpy"]
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Scripts/safetensors_check.py").standardized.path
    static let fashionMNIST = "/usr/share/datasets/fashion-mnist"

    /// Trains briefly, saves the model, and returns the record's test accuracy and the file.
    static func train(_ arguments: [String], in folder: String) throws -> (accuracy: Double, model: String) {
        let model = folder + "/model.safetensors", output = folder + "/run.json"
        try PythonEnvironment.run(BPFreeProcess.binary, ["train", "--dataset", "fashion-mnist", "--data-dir", fashionMNIST, "--train-limit", "1000",
                                                         "--epochs", "2", "--threads", "1", "--no-store", "--save-model", model, "--output", output]
                                  + arguments)
        let record = try RunRecord.decoded(from: Data(contentsOf: URL(fileURLWithPath: output)))
        return (try #require(record.testAccuracy), model)
    }

    /// The issue's bar: a BP MLP, a BP CNN (blocks with batch norm, a dense layer on the last
    /// map) and an MF MLP, each loaded into PyTorch with the same test accuracy; `evaluate`
    /// prints it too.
    @Test(arguments: [["--algorithm", "bp", "--architecture", "mlp:64,32"], ["--algorithm", "bp", "--architecture", "cnn:8,16"],
                      ["--algorithm", "mf", "--architecture", "mlp:64,32"]])
    func pyTorchReproducesTheTestAccuracyOfASavedModel(arguments: [String]) throws {
        let folder = IDXFiles.temporaryFolder()
        let (accuracy, model) = try Self.train(arguments, in: folder)
        let python = try PythonEnvironment.python(named: "torch-2.13-cpu", packages: Self.packages)
        let output = try PythonEnvironment.run(python, [Self.script, model, Self.fashionMNIST])
        let result = try JSONSerialization.jsonObject(with: Data(output.utf8)) as! [String: Any]
        #expect(result["count"] as? Int == 10_000)
        #expect(abs((result["accuracy"] as! Double) - accuracy) <= 1e-4 + 1e-12, "\(arguments): PyTorch \(result), bpfree \(accuracy)")
        let evaluation = try PythonEnvironment.run(BPFreeProcess.binary, ["evaluate", "--model", model, "--data-dir", Self.fashionMNIST, "--threads", "1"])
        #expect(evaluation.contains(String(format: "test accuracy %.2f%% (%d/10000)", accuracy * 100, Int((accuracy * 10_000).rounded()))),
                "\(evaluation)")
        #expect(evaluation.contains("inference:") && evaluation.contains("FLOPs per prediction"))
    }

    /// The file alone says how to predict: the algorithm, every hyperparameter, the inference
    /// rule, the architecture, the input's shape and normalisation, and the run.
    @Test func theMetadataSaysHowToPredict() throws {
        let folder = IDXFiles.temporaryFolder()
        let store = folder + "/runs.sqlite"
        try PythonEnvironment.run(BPFreeProcess.binary, ["train", "--algorithm", "mf", "--architecture", "mlp:32", "--dataset", "fashion-mnist",
                                                         "--data-dir", Self.fashionMNIST, "--train-limit", "500", "--epochs", "1", "--threads", "1",
                                                         "--store", store, "--save-model", folder + "/m.safetensors", "--set", "mf.inference=sum"])
        let file = try SafeTensors(decoding: Array(try Data(contentsOf: URL(fileURLWithPath: folder + "/m.safetensors"))))
        let metadata = file.metadata
        #expect(metadata["algorithm"] == "mf" && metadata["architecture"] == "mlp-1x32" && metadata["dataset"] == "fashion-mnist")
        #expect(metadata["input_shape"] == "[1,28,28]" && metadata["classes"] == "10" && metadata["run_id"] == "1")
        #expect(metadata["inference"]?.contains("Σ over units") == true)
        #expect(metadata["set"]?.contains("mf.inference=sum") == true && metadata["set"]?.contains("mf.learning_rate=") == true)
        #expect(metadata["normalization"]?.contains(#""mean": [0.286], "std": [0.353]"#) == true, "\(metadata["normalization"] ?? "")")
        #expect(Set(file.tensors.keys) == ["layer1.weight", "layer1.bias", "layer1.projection.weight"])
        #expect(file.tensors["layer1.weight"]?.shape == [32, 784])
    }

    /// `tune --save-models` keeps the best trial's model beside the store (only its), and
    /// `bench --save-models` every final run's, each of which `evaluate` reads back with the
    /// accuracy its run recorded.
    @Test func tuneKeepsTheBestTrialsModelAndBenchEveryFinalRuns() throws {
        let folder = IDXFiles.temporaryFolder()
        let synthetic = "synthetic:samples=300,classes=3,shape=4x4"
        var (status, errors) = try BPFreeProcess.run(["tune", "--algorithm", "bp", "--architecture", "mlp:8", "--dataset", synthetic, "--trials", "4",
                                                      "--epochs", "2", "--threads", "1", "--store", folder + "/runs.sqlite", "--study", "s/1",
                                                      "--save-models"])
        #expect(status == 0, "\(errors)")
        let store = try ResultsStore(path: folder + "/runs.sqlite")
        let study = try #require(try store.studies().first)
        let best = try #require(try store.trials(ofStudy: study.id!).best)
        let models = try FileManager.default.contentsOfDirectory(atPath: folder + "/runs.models/s_1")
        #expect(models == ["trial-\(best.number).safetensors"])
        let file = try SafeTensors(decoding: Array(try Data(contentsOf: URL(fileURLWithPath: folder + "/runs.models/s_1/" + models[0]))))
        #expect(file.metadata["study"] == "s/1" && file.metadata["trial"] == "\(best.number)")

        (status, errors) = try BPFreeProcess.run([
            "bench", "--suite", "quick", "--algorithms", "mf", "--datasets", synthetic, "--architecture", "mlp:8", "--trials", "1", "--epochs", "1",
            "--final-epochs", "1", "--seeds", "2", "--threads", "1", "--store", folder + "/bench.sqlite", "--models-dir", folder + "/bench-models"])
        #expect(status == 0, "\(errors)")
        let finals = try ResultsStore(path: folder + "/bench.sqlite").runs().filter { $0.record.role == .final }
        #expect(finals.count == 4, "mf and bp, two seeds each")
        for run in finals {
            let study = try #require(run.record.study)
            let path = folder + "/bench-models/\(study)/final-seed\(run.record.seed).safetensors"
            let output = try PythonEnvironment.run(BPFreeProcess.binary, ["evaluate", "--model", path, "--threads", "1"])
            #expect(output.contains(String(format: "test accuracy %.2f%%", (run.record.testAccuracy ?? -1) * 100)), "\(output)")
        }
    }

    /// A command that does not match the model, a file bpfree did not write, a tampered tensor
    /// and an unwritable destination are refused with the flag or file named; a refused
    /// `--save-model` is refused before any training.
    @Test func refusesWhatDoesNotMatch() throws {
        let folder = IDXFiles.temporaryFolder()
        let (_, model) = try Self.train(["--algorithm", "bp", "--architecture", "mlp:16"], in: folder)
        func evaluate(_ path: String, _ extra: [String] = []) throws -> (status: Int32, errors: String) {
            try BPFreeProcess.run(["evaluate", "--model", path, "--data-dir", Self.fashionMNIST, "--threads", "1"] + extra)
        }
        var result = try evaluate(model, ["--dataset", "mnist"])
        #expect(result.status != 0 && result.errors.contains("--dataset mnist") && result.errors.contains("trained on fashion-mnist"), "\(result.errors)")
        result = try evaluate(model, ["--algorithm", "ff"])
        #expect(result.status != 0 && result.errors.contains("--algorithm ff"), "\(result.errors)")

        var file = try SafeTensors(decoding: Array(try Data(contentsOf: URL(fileURLWithPath: model))))
        let original = file
        file.tensors["layer1.weight"] = SafeTensors.Entry(shape: [16, 783], scalars: Array(repeating: 0, count: 16 * 783))
        try Data(try file.encoded()).write(to: URL(fileURLWithPath: folder + "/shape.safetensors"))
        result = try evaluate(folder + "/shape.safetensors")
        #expect(result.status != 0 && result.errors.contains("shape.safetensors") && result.errors.contains("'layer1.weight' has shape [16, 783]"),
                "\(result.errors)")
        file = original
        file.tensors["output.weight"] = nil
        try Data(try file.encoded()).write(to: URL(fileURLWithPath: folder + "/missing.safetensors"))
        result = try evaluate(folder + "/missing.safetensors")
        #expect(result.status != 0 && result.errors.contains("'output.weight' is missing"), "\(result.errors)")
        file = original
        file.metadata["bpfree"] = nil
        try Data(try file.encoded()).write(to: URL(fileURLWithPath: folder + "/foreign.safetensors"))
        result = try evaluate(folder + "/foreign.safetensors")
        #expect(result.status != 0 && result.errors.contains("no bpfree metadata"), "\(result.errors)")
        file = original
        file.metadata["architecture"] = "mlp-1000x16000000"
        try Data(try file.encoded()).write(to: URL(fileURLWithPath: folder + "/huge.safetensors"))
        result = try evaluate(folder + "/huge.safetensors")
        #expect(result.status != 0 && result.errors.contains("huge.safetensors"), "\(result.errors)")
        try Data("not a model".utf8).write(to: URL(fileURLWithPath: folder + "/text.safetensors"))
        result = try evaluate(folder + "/text.safetensors")
        #expect(result.status != 0 && result.errors.contains("not a safetensors file"), "\(result.errors)")

        result = try BPFreeProcess.run(["train", "--algorithm", "bp", "--dataset", "synthetic", "--epochs", "1", "--no-store",
                                        "--output", folder + "/refused.json", "--save-model", folder])
        #expect(result.status != 0 && result.errors.contains("--save-model") && result.errors.contains("is a folder"), "\(result.errors)")
        #expect(!FileManager.default.fileExists(atPath: folder + "/refused.json"), "refused before training")
    }
}
