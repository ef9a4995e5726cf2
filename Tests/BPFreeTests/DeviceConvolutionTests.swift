@testable import CUDA
import Foundation
import Records
import Testing
import TestSupport

/// Convolutions on the emulated card through cuDNN (`Tests/CUDATests/CPU/fake_cudnn.cpp`: direct
/// convolutions, strict about layouts, workspace and algorithms) or lowered to im2col and cuBLAS,
/// chosen by timing both on the card the first time a pass of a shape is met.
@Suite(.serialized) struct DeviceConvolutionTests {
    static let cnn = ["bp", "--architecture", "cnn:4,6"]

    /// The emulated cuDNN's count of convolutions run.
    static func cudnnConvolutions(_ backend: CUDABackend) throws -> Int64 {
        let read: @convention(c) () -> Int64 = try backend.cuda.driver.library.function("bpfree_fake_cudnn_convolutions")
        return read()
    }

    /// A CNN trains alike through cuDNN and through im2col (float rounding apart), and through
    /// cuDNN the same to the bit whether its steps run as CUDA graphs or call by call. Every pass
    /// of every shape took the deterministic algorithm cuDNN's heuristics rank first (they rank
    /// one that is not above it for the passes backward), with a workspace as large as it needs.
    @Test func aCNNTrainsAlikeThroughCuDNNAndIm2col() throws {
        let (cudnn, cudnnCalls, im2col) = (try EmulatedGPU.backend(convolutions: "cudnn"), try EmulatedGPU.backend(graphs: false, convolutions: "cudnn"),
                                           try EmulatedGPU.backend(convolutions: "im2col"))
        let before = try Self.cudnnConvolutions(cudnn)
        let library = try DeviceTrainingTests.trainInProcess(Self.cnn, on: cudnn, batchSize: 16)
        let afterLibrary = try Self.cudnnConvolutions(cudnn)
        let direct = try DeviceTrainingTests.trainInProcess(Self.cnn, on: cudnnCalls, batchSize: 16)
        let afterDirect = try Self.cudnnConvolutions(cudnn)
        let lowered = try DeviceTrainingTests.trainInProcess(Self.cnn, on: im2col, batchSize: 16)
        #expect(try Self.cudnnConvolutions(cudnn) == afterDirect, "im2col asked for: no cuDNN call")
        #expect(library.status == .completed && lowered.status == .completed && direct.status == .completed)
        for (a, b) in zip(library.epochs, lowered.epochs) {
            #expect(abs(a.trainLoss - b.trainLoss) <= 1e-4 * abs(b.trainLoss) && abs(a.validationLoss - b.validationLoss) <= 1e-4 * abs(b.validationLoss),
                    "epoch \(a.epoch): \(a.trainLoss), \(a.validationLoss) through cuDNN vs \(b.trainLoss), \(b.validationLoss) through im2col")
        }
        #expect(library.testAccuracy == lowered.testAccuracy)
        #expect(library.epochs.map(\.trainLoss) == direct.epochs.map(\.trainLoss) && library.testAccuracy == direct.testAccuracy)
        #expect(cudnn.graphSteps > 0 && afterLibrary - before > 0)
        // Two convolutions a step, five passes (the first needs no input gradient): every one through cuDNN.
        let steps = Int64(library.window.trainSamples / 16)
        #expect(afterLibrary - before >= 5 * steps, "\(afterLibrary - before) cuDNN convolutions in \(steps) steps")
        let choices = cudnn.convolutionChoices.map(\.choice)
        #expect(!choices.isEmpty && choices.allSatisfy { $0.usesLibrary && $0.loweredMilliseconds == nil && $0.libraryMilliseconds == nil })
        let algorithms = Dictionary(grouping: choices, by: \.pass).mapValues { Set($0.map { $0.algorithm!.name }) }
        // Pinned, cuDNN's heuristics choose (nothing timed): their first deterministic algorithm.
        #expect(algorithms == [.forward: ["IMPLICIT_GEMM"], .backwardData: ["ALGO_1"], .backwardWeights: ["ALGO_1"]], "\(algorithms)")
        #expect(im2col.convolutionChoices.isEmpty && im2col.convolutionLibraryName == nil && cudnn.convolutionChoiceFile == nil, "pinned: no file")
    }

    /// By default each pass of each shape is timed both ways on the card, the faster kept; the
    /// run record lists every choice with both times, and the library by name and version.
    @Test func theRecordSaysHowEachPassWasChosen() throws {
        let folder = IDXFiles.temporaryFolder()
        let environment = try DeviceTrainingTests.environment(cache: folder + "/cubin")
        let record = try DeviceTrainingTests.train(Self.cnn, architecture: "", device: "cuda", folder: folder, environment: environment)
        let convolutions = try #require(record.environment?.gpu?.convolutions)
        #expect(convolutions.library == "cuDNN 9.10.2" && convolutions.selection == "measure")
        // Training batches (and a last, partial one) run every pass; validation and test batches the forward one.
        let passes = Dictionary(grouping: convolutions.passes, by: \.shape).mapValues { Set($0.map(\.pass)) }
        #expect(passes.values.contains(["forward", "backward-data", "backward-weights"]) && passes.values.contains(["forward"]), "\(passes)")
        #expect(convolutions.passes.filter { $0.pass == "forward" }.allSatisfy { $0.algorithm == "IMPLICIT_PRECOMP_GEMM" }, "the search's fastest, timed")
        #expect(convolutions.passes.count == Set(convolutions.passes.map { "\($0.shape) \($0.pass)" }).count, "each pass of a shape chosen once")
        for pass in convolutions.passes {
            let (im2col, cudnn) = (try #require(pass.im2colMilliseconds), try #require(pass.cudnnMilliseconds))
            #expect(im2col > 0 && cudnn > 0 && pass.route == (cudnn < im2col ? "cudnn" : "im2col") && pass.algorithm != nil, "\(pass)")
        }
        #expect(convolutions.passes.allSatisfy { $0.earlierRun == nil } && convolutions.choiceFile?.hasPrefix(folder) == true, "measured by this run")
        let mlp = try DeviceTrainingTests.train(["bp"], architecture: "mlp:16", device: "cuda", folder: folder, environment: environment)
        #expect(mlp.environment?.gpu != nil && mlp.environment?.gpu?.convolutions == nil, "no convolution: cuDNN not even loaded")
    }

    /// A `BPFREE_CUDA_CONVOLUTIONS` that names no route is refused in one line; a cuDNN that does
    /// not load lowers every convolution (one line says so, the record says why), unless cuDNN
    /// was asked for by name: then the run ends, saying why.
    @Test func aMissingCuDNNOrABadRouteIsSaidInOneLine() throws {
        let folder = IDXFiles.temporaryFolder()
        var environment = try DeviceTrainingTests.environment(cache: folder + "/cubin")
        let arguments = ["train", "--algorithm", "bp", "--architecture", "cnn:4", "--dataset", DeviceTrainingTests.synthetic, "--epochs", "1",
                         "--threads", "1", "--device", "cuda", "--no-store", "--output", folder + "/run.json"]
        environment["BPFREE_CUDA_CONVOLUTIONS"] = "fastest"
        let bad = try BPFreeProcess.run(arguments, environment: environment)
        #expect(bad.status != 0 && bad.errors.contains("BPFREE_CUDA_CONVOLUTIONS=fastest: expected measure, cudnn or im2col"), "\(bad.errors)")
        // A folder with the driver and cuBLAS but no cuDNN.
        let bare = try EmulatedGPU.folder(answeringFor: ["libcuda.so.1", "libcublas.so.13"], in: folder + "/bare")
        environment["BPFREE_CUDA_LIBS"] = bare
        environment["BPFREE_CUDA_CONVOLUTIONS"] = nil
        let lowered = try BPFreeProcess.run(arguments, environment: environment)
        #expect(lowered.status == 0 && lowered.errors.contains("cuDNN not loaded, convolutions run as im2col and cuBLAS: libcudnn.so.9 not found; searched: BPFREE_CUDA_LIBS=\(bare)"),
                "\(lowered.errors)")
        let record = try JSONDecoder().decode(RunRecord.self, from: Data(contentsOf: URL(fileURLWithPath: folder + "/run.json")))
        #expect(record.environment?.gpu?.convolutions?.library.hasPrefix("not loaded: libcudnn.so.9 not found") == true
                && record.environment?.gpu?.convolutions?.passes == [])
        environment["BPFREE_CUDA_CONVOLUTIONS"] = "cudnn"
        let refused = try BPFreeProcess.run(arguments, environment: environment)
        #expect(refused.status != 0 && refused.errors.contains("cuDNN not loaded, BPFREE_CUDA_CONVOLUTIONS=cudnn cannot be met: libcudnn.so.9 not found"),
                "\(refused.errors)")
    }

    /// A search cuDNN refuses (a shape it does not support) leaves that pass to im2col: one line
    /// per pass says so, the run completes and its record shows the route; asked for by name,
    /// cuDNN's refusal ends the run.
    @Test func aPassCuDNNRefusesRunsAsIm2col() throws {
        let folder = IDXFiles.temporaryFolder()
        var environment = try DeviceTrainingTests.environment(cache: folder + "/cubin")
        environment["BPFREE_FAKE_CUDNN_REFUSE"] = "1"
        let arguments = ["train", "--algorithm", "bp", "--architecture", "cnn:4", "--dataset", DeviceTrainingTests.synthetic, "--epochs", "1",
                         "--threads", "1", "--device", "cuda", "--no-store", "--output", folder + "/run.json"]
        let refused = try BPFreeProcess.run(arguments, environment: environment)
        #expect(refused.status == 0 && refused.errors.contains("cudnnFindConvolutionForwardAlgorithmEx (128×8×8×1 → 4, 3×3 stride 1 padding 1) failed: "
                                                                + "CUDNN_STATUS_NOT_SUPPORTED (cuDNN status 9); the forward pass of 128×8×8×1 → 4, 3×3 stride 1 padding 1 runs as im2col and cuBLAS"),
                "\(refused.errors)")
        let record = try JSONDecoder().decode(RunRecord.self, from: Data(contentsOf: URL(fileURLWithPath: folder + "/run.json")))
        let passes = try #require(record.environment?.gpu?.convolutions?.passes)
        #expect(!passes.isEmpty && passes.allSatisfy { $0.route == "im2col" && $0.algorithm == nil && $0.cudnnMilliseconds == nil && $0.im2colMilliseconds != nil })
        environment["BPFREE_CUDA_CONVOLUTIONS"] = "cudnn"
        let pinned = try BPFreeProcess.run(arguments, environment: environment)
        #expect(pinned.status != 0 && pinned.errors.contains("CUDNN_STATUS_NOT_SUPPORTED (cuDNN status 9)"), "\(pinned.errors)")
    }

    /// A `libcudnn.so.9` that lacks a call of the API (here, all but the version) is made up for
    /// by the sub-library beside it that has it.
    @Test func aCallTheShimLacksIsFoundInASubLibrary() throws {
        let folder = IDXFiles.temporaryFolder()
        var environment = try DeviceTrainingTests.environment(cache: folder + "/cubin")
        let libraries = try EmulatedGPU.folder(answeringFor: ["libcuda.so.1", "libcublas.so.13", "libcudnn_cnn.so.9"], in: folder + "/libraries")
        try Data("unsigned long cudnnGetVersion(void) { return 90801; }\n".utf8).write(to: URL(fileURLWithPath: folder + "/shim.c"))
        try PythonEnvironment.run("/usr/bin/env", [EmulatedGPU.compiler, "-x", "c", "-shared", "-fPIC", "-o", libraries + "/libcudnn.so.9", folder + "/shim.c"])
        environment["BPFREE_CUDA_LIBS"] = libraries
        environment["BPFREE_CUDA_CONVOLUTIONS"] = "cudnn"
        let run = try BPFreeProcess.run(["train", "--algorithm", "bp", "--architecture", "cnn:4", "--dataset", DeviceTrainingTests.synthetic,
                                         "--epochs", "1", "--threads", "1", "--device", "cuda", "--no-store", "--output", folder + "/run.json"],
                                        environment: environment)
        #expect(run.status == 0, "\(run.errors)")
        let record = try JSONDecoder().decode(RunRecord.self, from: Data(contentsOf: URL(fileURLWithPath: folder + "/run.json")))
        let convolutions = try #require(record.environment?.gpu?.convolutions)
        #expect(convolutions.library == "cuDNN 9.8.1" && !convolutions.passes.isEmpty && convolutions.passes.allSatisfy { $0.route == "cudnn" })
    }

    /// A measured choice is kept in a file for its kind of card, cuDNN and math: the next run
    /// there follows it without measuring (the same routes and algorithms, so the same bits for
    /// the same seed), and says so; it follows what the file says, even a route edited in.
    @Test func aLaterRunFollowsTheChoicesAnEarlierOneMeasured() throws {
        let folder = IDXFiles.temporaryFolder()
        let environment = try DeviceTrainingTests.environment(cache: folder + "/cubin")
        for run in ["first", "second", "third"] { try FileManager.default.createDirectory(atPath: folder + "/" + run, withIntermediateDirectories: true) }
        let first = try DeviceTrainingTests.train(Self.cnn, architecture: "", device: "cuda", folder: folder + "/first", environment: environment)
        let second = try DeviceTrainingTests.train(Self.cnn, architecture: "", device: "cuda", folder: folder + "/second", environment: environment)
        let (measured, followed) = (try #require(first.environment?.gpu?.convolutions), try #require(second.environment?.gpu?.convolutions))
        let file = try #require(measured.choiceFile)
        #expect(followed.choiceFile == file && file.hasSuffix("bpfree-CPU-emulator-sm-90-driver-13000-cuDNN-9.10.2-fp32.json"), "\(file)")
        #expect(!followed.passes.isEmpty && followed.passes.allSatisfy { $0.earlierRun == true })
        func routes(_ c: EnvironmentInfo.GPU.Convolutions) -> [String: String] {
            Dictionary(uniqueKeysWithValues: c.passes.map { ("\($0.shape) \($0.pass)", "\($0.route) \($0.algorithm ?? "-") \($0.im2colMilliseconds ?? 0) \($0.cudnnMilliseconds ?? 0)") })
        }
        #expect(routes(followed) == routes(measured))
        #expect(second.epochs.map(\.trainLoss) == first.epochs.map(\.trainLoss) && second.testAccuracy == first.testAccuracy)
        // Every pass edited to the other route: the next run takes them as they are.
        var entries = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: file))) as? [[String: Any]])
        for index in entries.indices { entries[index]["uses_cudnn"] = !(entries[index]["uses_cudnn"] as! Bool) }
        try JSONSerialization.data(withJSONObject: entries).write(to: URL(fileURLWithPath: file))
        let third = try DeviceTrainingTests.train(Self.cnn, architecture: "", device: "cuda", folder: folder + "/third", environment: environment)
        let flipped = try #require(third.environment?.gpu?.convolutions)
        #expect(Dictionary(uniqueKeysWithValues: flipped.passes.map { ("\($0.shape) \($0.pass)", $0.route) })
                == Dictionary(uniqueKeysWithValues: measured.passes.map { ("\($0.shape) \($0.pass)", $0.route == "cudnn" ? "im2col" : "cudnn") }))
    }
}
