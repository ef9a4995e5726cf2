import Algorithms
@testable import CUDA
import Datasets
import Experiments
import Foundation
import Records
import Results
import Testing
import TestSupport
import Training

/// `bpfree train --device cuda` end to end on the emulated GPU (`EmulatedGPU`: the driver and
/// cuBLAS on the CPU, bpfree's kernels compiled as C++): the kernels compiled by NVRTC from
/// PyPI, the model and the data copied to the device once, batches gathered there, every
/// primitive launched as a kernel or a cuBLAS product, and the same training as on the CPU.
@Suite(.serialized) struct DeviceTrainingTests {
    static let synthetic = "synthetic:samples=900,classes=4,shape=1x8x8"
    /// Every rule with its variants (the first argument is its id), on the MLP unless it names a network.
    static let rules: [[String]] = [["bp"], ["dfa"], ["fa"], ["mf"], ["mf", "--set", "mf.schedule=concurrent", "--set", "mf.inference=sum"], ["shallow"],
        ["ff"], ["ff", "--set", "ff.negatives=hard", "--set", "ff.schedule=greedy"],
        ["ff", "--set", "ff.inference=readout", "--set", "ff.optimizer=sgd"],
        ["bp", "--architecture", "cnn:4,6"], ["mf", "--architecture", "cnn:4,6"],
        ["mf", "--architecture", "cnn:4,6", "--set", "mf.schedule=concurrent"],
        ["bp", "--architecture", "cnn:4", "--dataset", "synthetic:samples=600,classes=3,shape=3x8x8"],
        ["sign"], ["sign", "--set", "sign.variant=brsf"], ["sign", "--set", "sign.variant=frsf", "--set", "sign.optimizer=sgd"],
        ["drtp"], ["pepita"], ["pepita", "--set", "pepita.output_error=forward"], ["fg"], ["fg", "--set", "fg.perturbation=weight"],
        ["pc"], ["pc", "--set", "pc.variant=fixed-prediction"],
        ["cafo", "--architecture", "cnn:4,6"], ["cafo-dfa-ce", "--architecture", "cnn:4,6"],
        ["cafo", "--architecture", "cnn:4,6", "--set", "cafo.loss=sl", "--set", "cafo.inference=probabilities"],
        ["cafo", "--architecture", "cnn:4,6", "--set", "cafo.loss=mse", "--set", "cafo.bn_statistics=initial"],
        ["cafo", "--architecture", "cnn:4,6", "--set", "cafo.solver=full-batch", "--set", "cafo.inference=probabilities"]]

    /// The environment of a `bpfree` that finds the emulated `libcuda.so.1` and PyPI's NVRTC.
    static func environment(cache: String) throws -> [String: String] {
        let folder = try #require(EmulatedGPU.folder)
        let python = try PythonEnvironment.python(named: "nvrtc-13", packages: ["nvidia-cuda-nvrtc==13.*"])
        var environment = ProcessInfo.processInfo.environment
        environment["BPFREE_CUDA_LIBS"] = folder
        environment["PATH"] = URL(fileURLWithPath: python).deletingLastPathComponent().path + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
        environment["BPFREE_CUBIN_CACHE"] = cache
        environment["BPFREE_CONVOLUTION_CACHE"] = cache + "-convolutions"
        return environment
    }

    static func train(_ algorithm: [String], architecture: String, device: String, folder: String,
                      environment: [String: String]) throws -> RunRecord {
        let output = "\(folder)/\(algorithm.joined(separator: "_"))-\(device).json"
        let network = (algorithm.contains("--architecture") ? [] : ["--architecture", architecture])
            + (algorithm.contains("--dataset") ? [] : ["--dataset", synthetic])
        let (status, errors) = try BPFreeProcess.run(["train", "--algorithm"] + algorithm + network + [
                                                      "--epochs", "3", "--seed", "5", "--threads", "1",
                                                      "--device", device, "--no-store", "--output", output], environment: environment)
        #expect(status == 0, "\(algorithm) on \(device): \(errors)")
        return try JSONDecoder().decode(RunRecord.self, from: Data(contentsOf: URL(fileURLWithPath: output)))
    }

    /// Every epoch's training and validation loss on the emulated GPU equals the CPU's within
    /// float rounding, as do the accuracies; the run says where it computed.
    @Test(arguments: rules)
    func theRuleTrainsOnTheDeviceAsOnTheCPU(algorithm: [String]) throws {
        let folder = IDXFiles.temporaryFolder()
        let environment = try Self.environment(cache: folder + "/cubin")
        let cpu = try Self.train(algorithm, architecture: "mlp:48,32", device: "cpu", folder: folder, environment: environment)
        let gpu = try Self.train(algorithm, architecture: "mlp:48,32", device: "cuda", folder: folder, environment: environment)
        #expect(!cpu.epochs.isEmpty && gpu.epochs.count == cpu.epochs.count)
        for (c, g) in zip(cpu.epochs, gpu.epochs) {
            #expect(abs(c.trainLoss - g.trainLoss) <= 1e-4 * abs(c.trainLoss), "epoch \(c.epoch): train loss \(c.trainLoss) vs \(g.trainLoss)")
            #expect(abs(c.validationLoss - g.validationLoss) <= 1e-4 * abs(c.validationLoss),
                    "epoch \(c.epoch): validation loss \(c.validationLoss) vs \(g.validationLoss)")
            #expect(c.validationAccuracy == g.validationAccuracy)
        }
        #expect(cpu.testAccuracy == gpu.testAccuracy)
        #expect(gpu.environment?.device == "cuda:0" && gpu.environment?.gpu?.name == "bpfree CPU emulator"
                && gpu.environment?.gpu?.computeCapability == "9.0" && gpu.environment?.gpu?.math == "fp32")
        // The NVRTC that compiled the kernels; no NVML on the emulation, so no driver version.
        #expect(gpu.environment?.gpu?.nvrtc?.hasPrefix("13.") == true && gpu.environment?.gpu?.driverVersion == nil)
        #expect((gpu.environment?.gpu?.graphSteps ?? 0) > 0, "the steps ran as CUDA graphs")
        #expect(cpu.environment?.device == "cpu" && cpu.environment?.gpu == nil && cpu.peakDeviceBytes == nil)
        // The model, its gradients and Adam's moments, the data and the batch buffers.
        #expect((gpu.peakDeviceBytes ?? 0) > 900 * 64 * 4, "\(String(describing: gpu.peakDeviceBytes))")
        #expect(gpu.trainFlops == cpu.trainFlops, "the device's products are counted as the CPU's")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder + "/cubin").count == KernelCatalog.files.count, "every kernel file compiled once, for sm_90")
    }

    /// Nothing crosses between the host and the card once a batch: inside the training window,
    /// the copies each way and the waits of two trainings that differ only in how many training
    /// and validation batches an epoch has are the same: each batch's loss (and a validation
    /// batch's correct count) stays on the card until the epoch's (the pass's) end, and random
    /// draws (FF's negatives, PEPITA's masks, tangents) are made there from a key. Every rule and
    /// variant above, trained in this process on the emulated card.
    @Test(arguments: rules)
    func nothingCrossesOnceABatch(algorithm: [String]) throws {
        let backend = try EmulatedGPU.backend()
        let read: @convention(c) (UnsafeMutablePointer<Int64>) -> Void = try backend.cuda.driver.library.function("bpfree_fake_crossings")
        final class Window: TrainingObserver {
            let read: @convention(c) (UnsafeMutablePointer<Int64>) -> Void
            var start = [Int64](repeating: 0, count: 3), crossings: [Int64] = []
            init(read: @escaping @convention(c) (UnsafeMutablePointer<Int64>) -> Void) { self.read = read }
            func windowDidStart() { read(&start) }
            func windowDidEnd() {
                var end = [Int64](repeating: 0, count: 3)
                read(&end)
                crossings = zip(end, start).map { $0 - $1 }
            }
        }
        func crossings(batchSize: Int, evaluationBatchSize: Int) throws -> [Int64] {
            let window = Window(read: read)
            #expect(try Self.trainInProcess(algorithm, on: backend, batchSize: batchSize, evaluationBatchSize: evaluationBatchSize,
                                            observers: [window]).status == .completed)
            return window.crossings
        }
        let (small, large) = (try crossings(batchSize: 16, evaluationBatchSize: 32), try crossings(batchSize: 48, evaluationBatchSize: 64))
        #expect(small == large, "copies to the card, copies back and waits in the window: \(small) at batches 16 and 32, \(large) at 48 and 64")
    }

    /// `algorithm` (a row of `rules`) trained for two epochs in this process on `backend`, with
    /// the data moved there.
    static func trainInProcess(_ algorithm: [String], on backend: CUDABackend, batchSize: Int, evaluationBatchSize: Int = 64,
                               observers: [any TrainingObserver] = []) throws -> TrainingResult {
        var (options, architecture) = ([String: String](), "mlp:48,32")
        for (flag, value) in zip(algorithm.dropFirst(), algorithm.dropFirst(2)) {
            if flag == "--set" { let pair = value.split(separator: "=", maxSplits: 1); options[String(pair[0])] = String(pair[1]) }
            if flag == "--architecture" { architecture = value }
        }
        let dataset = algorithm.firstIndex(of: "--dataset").map { algorithm[$0 + 1] } ?? synthetic
        var data = try RunConfiguration(algorithm: algorithm[0], dataset: dataset, seed: 5, threads: 1).loadData()
        data = DataSplits(train: data.train.moved(to: backend), validation: data.validation.moved(to: backend), test: data.test.moved(to: backend))
        // Colour images are augmented as CIFAR's are: the crops are drawn on the card too.
        if data.train.sampleShape.first == 3 { data.train.augmentation = .cropAndFlip }
        let built = try AlgorithmRegistry.make(id: algorithm[0], architecture: Architecture(parsing: architecture),
                                               inputShape: data.train.sampleShape, classCount: data.train.classCount,
                                               common: CommonHyperparameters(batchSize: batchSize), options: options, seed: 5)
        built.algorithm.move(to: backend)
        let trainer = Trainer(configuration: .init(stopping: StoppingRule(patience: 20, minDelta: 0, maxEpochs: 2), batchSize: batchSize,
                                                   evaluationBatchSize: evaluationBatchSize, seed: 5),
                              observers: observers)
        return trainer.fit(built.algorithm, data: data)
    }

    /// A training step runs as one CUDA graph, replayed with each step's arguments patched in,
    /// and trains exactly as when every call is launched by itself: the same losses and
    /// accuracies to the bit, for every rule and variant. Only an epoch's first two steps run
    /// call by call (the first copies the epoch's order to the card; a graph is built once two
    /// steps in a row have the same shape). cuDNN's convolutions are captured into the graphs too.
    @Test(arguments: rules)
    func aStepRunsAsOneGraph(algorithm: [String]) throws {
        // Convolutions through cuDNN in both (measured, the route could differ between the two).
        let graphs = try EmulatedGPU.backend(convolutions: "cudnn"), calls = try EmulatedGPU.backend(graphs: false, convolutions: "cudnn")
        let read: @convention(c) (UnsafeMutablePointer<Int64>) -> Void = try graphs.cuda.driver.library.function("bpfree_fake_graphs")
        var (before, after) = ([Int64](repeating: 0, count: 2), [Int64](repeating: 0, count: 2))
        read(&before)
        let replayed = try Self.trainInProcess(algorithm, on: graphs, batchSize: 16)
        read(&after)
        let direct = try Self.trainInProcess(algorithm, on: calls, batchSize: 16)
        #expect(replayed.status == .completed && direct.status == .completed)
        #expect(replayed.epochs.map(\.trainLoss) == direct.epochs.map(\.trainLoss))
        #expect(replayed.epochs.map(\.validationLoss) == direct.epochs.map(\.validationLoss))
        #expect(replayed.epochs.map(\.validationAccuracy) == direct.epochs.map(\.validationAccuracy))
        #expect(replayed.testAccuracy == direct.testAccuracy)
        let steps = replayed.window.trainSamples / 16
        #expect(calls.graphSteps == 0 && graphs.graphSteps >= steps - 2 * replayed.epochs.count,
                "\(graphs.graphSteps) of \(steps) steps ran as a graph")
        // The driver launched them; the batch's offset changes every step, so arguments were patched.
        #expect(after[0] - before[0] == Int64(graphs.graphSteps) && after[1] - before[1] >= Int64(graphs.graphSteps))
    }

    /// A driver that refuses to build a graph does not end the run: one line says graphs are off
    /// and why, every step runs call by call, and the record says no step ran as a graph.
    @Test func aDriverThatRefusesGraphsTrainsCallByCall() throws {
        let folder = IDXFiles.temporaryFolder()
        var environment = try Self.environment(cache: folder + "/cubin")
        let expected = try Self.train(["bp"], architecture: "mlp:16", device: "cuda", folder: folder, environment: environment)
        environment["BPFREE_FAKE_NO_GRAPHS"] = "1"
        let (status, errors) = try BPFreeProcess.run(["train", "--algorithm", "bp", "--architecture", "mlp:16", "--dataset", Self.synthetic,
                                                      "--epochs", "3", "--seed", "5", "--threads", "1", "--device", "cuda", "--no-store",
                                                      "--output", folder + "/refused.json"], environment: environment)
        #expect(status == 0 && errors.contains("cuda:0 (bpfree CPU emulator): CUDA graphs off for this run, each call launched by itself: "
                                                + "cuGraphInstantiateWithFlags failed: operation not supported (CUDA error 801)"), "\(errors)")
        let record = try JSONDecoder().decode(RunRecord.self, from: Data(contentsOf: URL(fileURLWithPath: folder + "/refused.json")))
        #expect(record.environment?.gpu?.graphSteps == 0 && (expected.environment?.gpu?.graphSteps ?? 0) > 0)
        #expect(record.epochs.map(\.trainLoss) == expected.epochs.map(\.trainLoss) && record.testAccuracy == expected.testAccuracy)
    }

    /// `bpfree info --check-gpu` on the emulated card: every check passes, the CUDA graph one
    /// and the cuDNN one (through a backend of their own) among them.
    @Test func theGPUCheckCommandPassesOnTheEmulation() throws {
        let folder = IDXFiles.temporaryFolder()
        let environment = try Self.environment(cache: folder + "/cubin")
        let (status, output) = try BPFreeProcess.runCapturingOutput(["info", "--check-gpu"], environment: environment)
        let lines = output.split(separator: "\n")
        #expect(status == 0 && lines.filter { $0.hasPrefix("ok  ") }.count == 11 && !output.contains("FAIL"), "\(output)")
        #expect(lines.contains { $0.hasPrefix("ok   a step as a CUDA graph: built, then patched") }, "\(output)")
        #expect(lines.contains { $0.hasPrefix("ok   cuDNN convolutions, each pass, 8×9×9×5 → 7, 3×3 stride 2 padding 1: relative error")
                                 && $0.hasSuffix("(cuDNN 9.10.2: forward IMPLICIT_PRECOMP_GEMM, backward-data ALGO_1, backward-weights ALGO_1)") },
                "\(output)")
    }

    /// `bpfree info`'s GPU lines: each GPU, then where each NVIDIA library bpfree loads was
    /// found (cuDNN with its version, NVRTC with its), or why it was not.
    @Test func infoSaysWhereEachLibraryWasFound() throws {
        let folder = IDXFiles.temporaryFolder()
        var environment = try Self.environment(cache: folder + "/cubin")
        let emulator = try #require(EmulatedGPU.folder)
        let lines = ComputeDevice.gpuLines(environment: environment)
        #expect(lines.count == 4 && lines[0] == "GPU:      cuda:0 bpfree CPU emulator, compute capability 9.0, 2 SMs, 1.0 GiB, driver CUDA 13.0"
                && lines[1] == "  cuBLAS: \(emulator)/libcublas.so.13" && lines[2] == "  cuDNN: 9.10.2 at \(emulator)/libcudnn.so.9"
                && lines[3].hasPrefix("  NVRTC: 13.") && lines[3].hasSuffix("/nvidia/cu13/lib/libnvrtc.so.13"), "\(lines)")
        // Without cuDNN: the line says where it was looked for.
        let bare = try EmulatedGPU.folder(answeringFor: ["libcuda.so.1"], in: folder + "/bare")
        environment["BPFREE_CUDA_LIBS"] = bare
        let missing = ComputeDevice.gpuLines(environment: environment)
        #expect(missing.count == 4 && missing[2].hasPrefix("  cuDNN: libcudnn.so.9 not found; searched: BPFREE_CUDA_LIBS=\(bare)"), "\(missing)")
    }

    /// Every registered rule is among the rules above: a new one is checked on the device too.
    @Test func everyRegisteredRuleIsCheckedOnTheDevice() {
        let checked = Set(Self.rules.map { try! AlgorithmRegistry.algorithm($0[0]).id })
        #expect(checked == Set(AlgorithmRegistry.all.map { $0.id }))
    }

    /// `--gpu-math tf32` reaches cuBLAS and the run record; on the CPU it is refused by name.
    @Test func tf32IsAskedOfCuBLASAndRecorded() throws {
        let folder = IDXFiles.temporaryFolder()
        let environment = try Self.environment(cache: folder + "/cubin")
        let record = try Self.train(["bp", "--gpu-math", "tf32"], architecture: "mlp:16", device: "cuda", folder: folder, environment: environment)
        #expect(record.environment?.gpu?.math == "tf32")
        let (status, errors) = try BPFreeProcess.run(["train", "--gpu-math", "tf32", "--dataset", Self.synthetic, "--no-store"], environment: environment)
        #expect(status != 0 && errors.contains("--gpu-math: tf32 is cuBLAS's and cuDNN's math on a GPU; this run computes on the CPU (--device cuda)"), "\(errors)")
    }

    /// Data the card cannot hold is refused before any is copied, in one line with both sizes.
    @Test func dataTooLargeForTheCardIsRefusedUpFront() throws {
        let folder = IDXFiles.temporaryFolder()
        var environment = try Self.environment(cache: folder + "/cubin")
        environment["BPFREE_FAKE_FREE_BYTES"] = "200000"
        let (status, errors) = try BPFreeProcess.run(["train", "--device", "cuda", "--dataset", Self.synthetic, "--no-store"], environment: environment)
        let lines = errors.split(separator: "\n")
        #expect(status != 0 && lines.count == 1
                && lines[0].hasSuffix("--device cuda:0: the data needs 0.2 MiB on the card, which has 0.2 MiB free: train on a smaller --train-limit or on the CPU"),
                "\(errors)")
    }

    /// Only the processes that train make a context on the card: each run's own (IsolatedRun),
    /// not the command that started it, which would hold the card's memory all along.
    @Test func onlyTheRunsProcessesHoldTheCard() throws {
        let folder = IDXFiles.temporaryFolder()
        var environment = try Self.environment(cache: folder + "/cubin")
        environment["BPFREE_FAKE_CONTEXT_LOG"] = folder + "/contexts"
        let train = try BPFreeProcess.run(["train", "--device", "cuda", "--architecture", "mlp:16", "--dataset", Self.synthetic,
                                           "--epochs", "1", "--threads", "1", "--no-store"], environment: environment)
        #expect(train.status == 0, "\(train.errors)")
        let tune = try BPFreeProcess.run(["tune", "--device", "cuda", "--algorithm", "bp", "--architecture", "mlp:16", "--dataset", Self.synthetic,
                                          "--trials", "2", "--epochs", "1", "--threads", "1", "--store", folder + "/s.sqlite"], environment: environment)
        #expect(tune.status == 0, "\(tune.errors)")
        let processes = try String(contentsOfFile: folder + "/contexts", encoding: .utf8).split(separator: "\n")
        #expect(processes.count == 3 && Set(processes).count == 3, "one context per run (train's, two trials'): \(processes)")
    }

    /// A study on the device: its worker processes get `--device` and every trial trains there.
    @Test func aStudysWorkersTrainOnTheDevice() throws {
        let folder = IDXFiles.temporaryFolder()
        let environment = try Self.environment(cache: folder + "/cubin")
        let store = folder + "/study.sqlite"
        let (status, errors) = try BPFreeProcess.run(["tune", "--device", "cuda", "--algorithm", "dfa", "--architecture", "mlp:16",
                                                      "--dataset", Self.synthetic, "--trials", "2", "--epochs", "2", "--workers", "2",
                                                      "--threads", "1", "--store", store], environment: environment)
        #expect(status == 0, "\(errors)")
        let runs = try ResultsStore(path: store).runs()
        #expect(runs.count == 2 && runs.allSatisfy { $0.record.environment?.device == "cuda:0" && $0.record.peakDeviceBytes != nil },
                "\(runs.map { $0.record.environment?.device ?? "none" })")
    }
}
