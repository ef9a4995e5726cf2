import Foundation
import NeuralNetwork
import Testing
import TestSupport
import TensorCore
@testable import CUDA

/// The kernels' CUDA C, compiled as plain C++ under a small header (CPU/cuda_on_cpu.h) and run
/// on the CPU thread by thread, against the CPU primitives they implement on fresh random
/// inputs: the arithmetic of every kernel is checked without a GPU.
@Suite(.serialized) struct KernelsOnCPUTests {
    /// The kernels as a shared library built with the Swift toolchain's clang++.
    static let library: SharedLibrary? = {
        let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path
        let kernels = URL(fileURLWithPath: here).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/CUDA/Kernels").path
        let output = IDXFiles.temporaryFolder() + "/libkernels-on-cpu.so"
        // The Swift toolchain's own clang++ (swift and clang++ sit side by side), else PATH's.
        let swift = ProcessInfo.processInfo.environment["PATH"]?.split(separator: ":").map { $0 + "/swift" }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
        let toolchain = swift.map { URL(fileURLWithPath: $0).resolvingSymlinksInPath().deletingLastPathComponent().path + "/clang++" }
        let compiler = toolchain.flatMap { FileManager.default.isExecutableFile(atPath: $0) ? $0 : nil } ?? "clang++"
        let sources = KernelCatalog.files.map { kernels + "/" + $0.name }
        do {
            try PythonEnvironment.run("/usr/bin/env", [compiler, "-std=c++17", "-O1", "-ffp-contract=off", "-fPIC", "-shared", "-Wall", "-Werror", "-o", output,
                here + "/CPU/launch.cpp", "-include", here + "/CPU/cuda_on_cpu.h", "-x", "c++"] + sources)
            return try SharedLibrary.open([output], environment: [:])
        } catch {
            Issue.record("the kernels did not compile as C++: \(error)")
            return nil
        }
    }()

    /// Runs `body` once per thread of a 1-D launch covering `count` threads in blocks of 128.
    static func launch(_ count: Int, _ body: () -> Void) throws {
        let setThread: @convention(c) (UInt32, UInt32, UInt32, UInt32) -> Void = try #require(library).function("bpfree_cpu_set_thread")
        let blocks = (count + 127) / 128
        for block in 0..<blocks {
            for thread in 0..<128 {
                setThread(UInt32(block), UInt32(thread), 128, UInt32(blocks))
                body()
            }
        }
    }

    static func kernel<T>(_ name: String, _ type: T.Type = T.self) throws -> T { try #require(library).function(name) }

    var generator = SeededGenerator(seed: 5, stream: "kernels")
    mutating func random(_ shape: [Int]) -> Tensor { Tensor(shape: shape, uniformIn: -2...2, using: &generator) }

    /// ‖a − b‖ / ‖b‖.
    static func relativeError(_ a: [Float], _ b: [Float]) -> Double {
        let difference = zip(a, b).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }
        let norm = b.reduce(0.0) { $0 + Double($1) * Double($1) }
        return (difference / max(norm, 1e-30)).squareRoot()
    }

    typealias F = UnsafeMutablePointer<Float>
    typealias CF = UnsafePointer<Float>

    @Test mutating func rowKernelsMatchTheTensorPrimitives() throws {
        let (n, d) = (37, 19)
        let x = random([n, d])
        // gather_rows
        let indices: [Int] = (0..<23).map { ($0 * 7) % n }
        var expected = Tensor(zeros: [0])
        expected.gatherRows(indices, of: x)
        var out = [Float](repeating: 0, count: indices.count * d)
        let gather: @convention(c) (CF, CF, Int64, F, Int32, Int32) -> Void = try Self.kernel("gather_rows")
        let order = [0, 0, 0] + indices.map(Float.init)   // the batch starts at row 3 of the epoch's order
        try Self.launch(out.count) { x.withUnsafePointer { xp in gather(xp, order, 3, &out, Int32(indices.count), Int32(d)) } }
        #expect(out == expected.scalars)
        // repeat_rows, then set_leading_onehot / fill_leading (FF's embedding)
        let labels: [Int32] = (0..<(3 * n)).map { Int32($0 % 5) }
        var embedded = Tensor(zeros: [0])
        embedded.assignRepeatedRows(of: x, copies: 3)
        embedded.setLeadingColumns(oneHot: labels, classCount: 5, value: 1.5)
        var repeated = [Float](repeating: 0, count: 3 * n * d)
        let repeatRows: @convention(c) (CF, F, Int32, Int32, Int32) -> Void = try Self.kernel("repeat_rows")
        try Self.launch(repeated.count) { x.withUnsafePointer { repeatRows($0, &repeated, Int32(n), Int32(d), 3) } }
        let oneHot: @convention(c) (CF, F, Int32, Int32, Int32, Float) -> Void = try Self.kernel("set_leading_onehot")
        try Self.launch(3 * n * 5) { oneHot(labels.map(Float.init), &repeated, Int32(3 * n), Int32(d), 5, 1.5) }
        #expect(repeated == embedded.scalars)
        embedded.fillLeadingColumns(5, with: 0.3)
        let fillLeading: @convention(c) (F, Int32, Int32, Int32, Float) -> Void = try Self.kernel("fill_leading")
        try Self.launch(3 * n * 5) { fillLeading(&repeated, Int32(3 * n), Int32(d), 5, 0.3) }
        #expect(repeated == embedded.scalars)
        // set_columns, add_to_rows, add_transposed
        var target = random([n, d + 4])
        var device = target.scalars
        let part = random([n, 4])
        target.setColumns(startingAt: d, to: part)
        let setColumns: @convention(c) (CF, F, Int32, Int32, Int32, Int32) -> Void = try Self.kernel("set_columns")
        try Self.launch(n * 4) { part.withUnsafePointer { setColumns($0, &device, Int32(n), 4, Int32(d + 4), Int32(d)) } }
        #expect(device == target.scalars)
        let rows = random([5, d + 4])
        target.addToRows(startingAt: 7, rows)
        let addToRows: @convention(c) (CF, F, Int64, Int32, Int32) -> Void = try Self.kernel("add_to_rows")
        try Self.launch(5 * (d + 4)) { rows.withUnsafePointer { addToRows($0, &device, 7, 5, Int32(d + 4)) } }
        #expect(device == target.scalars)
        var scores = random([n, 6])
        var deviceScores = scores.scalars
        let byCandidate = random([6, 11])
        scores.addTransposed(byCandidate, atRow: 20)
        let addTransposed: @convention(c) (CF, F, Int64, Int32, Int32) -> Void = try Self.kernel("add_transposed")
        try Self.launch(11 * 6) { byCandidate.withUnsafePointer { addTransposed($0, &deviceScores, 20, 6, 11) } }
        #expect(deviceScores == scores.scalars)
    }

    /// The counter-based draws of random.cu are the host's (`CounterRandom`), draw for draw, and
    /// so are the wrong classes, the candidate embedding and the in-order sum built on them.
    @Test mutating func randomKernelsDrawWhatTheHostDraws() throws {
        let key: UInt64 = 0xDEAD_BEEF_1234_5678, n = 301
        var host = Tensor(zeros: [n]), device = [Float](repeating: .nan, count: n)
        host.fillUniform(in: -0.5...1.5, key: key)
        let uniform: @convention(c) (F, Int64, Float, Float, Int64) -> Void = try Self.kernel("uniform_fill")
        try Self.launch(n) { uniform(&device, Int64(n), -0.5, 2, Int64(bitPattern: key)) }
        #expect(device == host.scalars && Set(host.scalars).count > n - 3)
        host.fillDropoutMask(keep: 0.8, key: key)
        let dropout: @convention(c) (F, Int64, Float, Int64) -> Void = try Self.kernel("dropout_mask")
        try Self.launch(n) { dropout(&device, Int64(n), 0.8, Int64(bitPattern: key)) }
        #expect(device == host.scalars && Set(host.scalars) == [0, 1 / Float(0.8)])
        host.fillNormal(standardDeviation: 0.7, key: key)
        let normal: @convention(c) (F, Int64, Float, Int64) -> Void = try Self.kernel("normal_fill")
        try Self.launch((n + 1) / 2) { normal(&device, Int64(n), 0.7, Int64(bitPattern: key)) }
        #expect(Self.relativeError(device, host.scalars) < 1e-6)   // libm's and the kernel's log, sin, cos may differ in the last bit
        // Wrong classes, uniform and from scores.
        let (rows, c) = (40, 7)
        let labels = (0..<rows).map { Float(($0 * 3) % c) }, scores = random([rows, c])
        let negatives: @convention(c) (CF, CF?, F, Int32, Int32, Int64) -> Void = try Self.kernel("negative_labels")
        for hard in [false, true] {
            var pairs = [Float](repeating: .nan, count: 2 * rows)
            try scores.withUnsafePointer { sp in
                try Self.launch(rows) { negatives(labels, hard ? sp : nil, &pairs, Int32(rows), Int32(c), Int64(bitPattern: key)) }
            }
            let expected = try (0..<rows).map { row in
                try scores.withUnsafePointer { sp in
                    Float(WrongClassSampling.draw(label: Int(labels[row]), classCount: c, scores: hard ? sp + row * c : nil, key: key, row: row))
                }
            }
            #expect(pairs == labels + expected && zip(labels, expected).allSatisfy { $0 != $1 }, "hard: \(hard)")
        }
        // Every candidate label by block.
        var embedded = random([3 * 4, 9]), deviceEmbedded = embedded.scalars
        embedded.setLeadingColumns(oneHotByBlockOf: 4, classCount: 3, value: 2)
        let blockOneHot: @convention(c) (F, Int32, Int32, Int32, Int32, Float) -> Void = try Self.kernel("set_block_onehot")
        try Self.launch(12 * 3) { blockOneHot(&deviceEmbedded, 12, 9, 3, 4, 2) }
        #expect(deviceEmbedded == embedded.scalars)
        // A factor summed and applied on the device: ĝ += (Σ d / K)·v.
        let dots = random([n]), tangent = random([n])
        var sum = Tensor(zeros: [0]), gradient = random([n]), deviceSum: Float = .nan
        var deviceGradient = gradient.scalars
        dots.sumInOrder(into: &sum)
        gradient.add(tangent, scaledByScalarIn: sum, over: 3)
        let sumInOrder: @convention(c) (CF, Int64, UnsafeMutablePointer<Float>) -> Void = try Self.kernel("sum_in_order")
        let addScaledByScalar: @convention(c) (CF, F, Int64, CF, Float) -> Void = try Self.kernel("add_scaled_by_scalar")
        try Self.launch(1) { dots.withUnsafePointer { sumInOrder($0, Int64(n), &deviceSum) } }
        try Self.launch(n) { tangent.withUnsafePointer { addScaledByScalar($0, &deviceGradient, Int64(n), [deviceSum], 3) } }
        #expect(deviceSum == sum.scalars[0] && deviceGradient == gradient.scalars)
    }

    @Test mutating func rowReductionsMatchTheTensorPrimitives() throws {
        let (n, c) = (300, 10)
        let z = random([n, c])
        let labels: [Int32] = (0..<n).map { Int32(($0 * 3) % c) }
        var correct: UInt32 = 0
        let count: @convention(c) (CF, CF, Int32, Int32, UnsafeMutablePointer<UInt32>) -> Void = try Self.kernel("count_argmax_matches")
        try Self.launch(n) { z.withUnsafePointer { count($0, labels.map(Float.init), Int32(n), Int32(c), &correct) } }
        #expect(Int(correct) == z.countArgmaxMatches(labels))
        var probabilities = Tensor(zeros: [0])
        z.softmaxRows(into: &probabilities)
        var p = [Float](repeating: 0, count: n * c)
        let softmax: @convention(c) (CF, F, Int32, Int32) -> Void = try Self.kernel("softmax_rows")
        try Self.launch(n) { z.withUnsafePointer { softmax($0, &p, Int32(n), Int32(c)) } }
        #expect(Self.relativeError(p, probabilities.scalars) <= 1e-6)
        var sums = Tensor(zeros: [0])
        z.rowSquaredSums(scale: 0.25, into: &sums)
        var deviceSums = [Float](repeating: 0, count: n)
        let squared: @convention(c) (CF, F, Int32, Int32, Float) -> Void = try Self.kernel("row_squared_sums")
        try Self.launch(n) { z.withUnsafePointer { squared($0, &deviceSums, Int32(n), Int32(c), 0.25) } }
        #expect(deviceSums == sums.scalars)
        for (kind, flag) in [(RowNormalization.rms, Int32(1)), (.l2, 0)] {
            var normalized = Tensor(zeros: [0])
            z.normalizeRows(into: &normalized, kind: kind, epsilon: 1e-8)
            var y = [Float](repeating: 0, count: n * c)
            let normalize: @convention(c) (CF, F, Int32, Int32, Int32, Float) -> Void = try Self.kernel("normalize_rows")
            try Self.launch(n) { z.withUnsafePointer { normalize($0, &y, Int32(n), Int32(c), flag, 1e-8) } }
            #expect(Self.relativeError(y, normalized.scalars) <= 1e-6, "\(kind)")
        }
    }

    @Test mutating func lossKernelsMatchTheCPUKernels() throws {
        let (n, c) = (200, 10)
        let z = random([n, c])
        let labels: [Int32] = (0..<n).map { Int32(($0 * 7) % c) }
        var gradient = [Float](repeating: 0, count: n * c)
        let cpu = labels.withUnsafeBufferPointer { l in gradient.withUnsafeMutableBufferPointer {
            SoftmaxKernels.crossEntropy(logits: z, labels: l, gradient: $0.baseAddress, gradientScale: 1 / Float(n)) } }
        var deviceGradient = [Float](repeating: 0, count: n * c)
        var loss = 0.0, correct: UInt32 = 0
        let crossEntropy: @convention(c) (CF, CF, F, Int32, Int32, Float, UnsafeMutablePointer<Double>, UnsafeMutablePointer<UInt32>) -> Void
            = try Self.kernel("softmax_cross_entropy")
        try Self.launch(n) { z.withUnsafePointer { crossEntropy($0, labels.map(Float.init), &deviceGradient, Int32(n), Int32(c), 1 / Float(n), &loss, &correct) } }
        #expect(abs(loss - cpu.lossSum) <= 1e-5 * abs(cpu.lossSum) && Int(correct) == cpu.correct)
        #expect(Self.relativeError(deviceGradient, gradient) <= 1e-6)
        // Forward-Forward's layer loss: the first half of the rows positive.
        let h = random([n, 32])
        var expected = Tensor(zeros: [0])
        let expectedLoss = LogisticKernels.squaredNormLossAndGradient(h, scale: 1, shift: 32, positives: n / 2, gradient: &expected)
        var deviceLoss = 0.0
        let squaredNorm: @convention(c) (CF, F, Int32, Int32, Float, Float, Int32, UnsafeMutablePointer<Double>) -> Void = try Self.kernel("squared_norm_loss")
        var hGradient = [Float](repeating: 0, count: n * 32)
        try Self.launch(n) { h.withUnsafePointer { squaredNorm($0, &hGradient, Int32(n), 32, 1, 32, Int32(n / 2), &deviceLoss) } }
        #expect(abs(deviceLoss - expectedLoss) <= 1e-5 * abs(expectedLoss))
        #expect(Self.relativeError(hGradient, expected.scalars) <= 1e-6)
        // Its validation loss over candidates, and peer normalisation.
        let goodness = random([c, 50])
        let expectedCandidate = LogisticKernels.candidateLoss(scores: goodness, labels: labels.prefix(50), shift: 0.5)
        var candidate = 0.0
        let candidateLoss: @convention(c) (CF, CF, Int32, Int32, Float, UnsafeMutablePointer<Double>) -> Void = try Self.kernel("candidate_loss")
        try Self.launch(50) { goodness.withUnsafePointer { candidateLoss($0, labels.map(Float.init), Int32(c), 50, 0.5, &candidate) } }
        #expect(abs(candidate - expectedCandidate) <= 1e-5 * abs(expectedCandidate))
        var mean = Tensor(shape: [32], repeating: 0.5)
        var deviceMean = mean.scalars
        LogisticKernels.blendColumnMeans(of: h, rows: n / 2, momentum: 0.9, into: &mean)
        let blend: @convention(c) (CF, F, Int32, Int32, Float) -> Void = try Self.kernel("blend_column_means")
        try Self.launch(32) { h.withUnsafePointer { blend($0, &deviceMean, Int32(n / 2), 32, 0.9) } }
        #expect(Self.relativeError(deviceMean, mean.scalars) <= 1e-6)
        LogisticKernels.addCentered(mean, scale: 0.01, rows: n / 2, to: &expected)
        let addCentered: @convention(c) (CF, F, Int32, Int32, Float) -> Void = try Self.kernel("add_centered")
        try Self.launch(n / 2 * 32) { mean.withUnsafePointer { addCentered($0, &hGradient, Int32(n / 2), 32, 0.01) } }
        #expect(Self.relativeError(hGradient, expected.scalars) <= 1e-6)
    }

    @Test mutating func layerAndOptimizerKernelsMatchTheCPU() throws {
        let (n, d) = (64, 48)
        let x = random([n, d]), b = random([d])
        var y = x
        BiasKernels.addRows(&y, bias: b)
        var deviceY = x.scalars
        let addBias: @convention(c) (CF, F, Int32, Int32) -> Void = try Self.kernel("add_bias_rows")
        try Self.launch(n * d) { b.withUnsafePointer { addBias($0, &deviceY, Int32(n), Int32(d)) } }
        #expect(deviceY == y.scalars)
        var db = b
        var deviceDB = b.scalars
        BiasKernels.accumulateColumnSums(of: x, into: &db)
        let columnSums: @convention(c) (CF, F, Int32, Int32) -> Void = try Self.kernel("accumulate_column_sums")
        try Self.launch(d) { x.withUnsafePointer { columnSums($0, &deviceDB, Int32(n), Int32(d)) } }
        #expect(Self.relativeError(deviceDB, db.scalars) <= 1e-6)
        var axpy = y
        axpy.add(x, scaledBy: -0.37)
        let addScaled: @convention(c) (CF, F, Int64, Float) -> Void = try Self.kernel("add_scaled")
        try Self.launch(n * d) { x.withUnsafePointer { addScaled($0, &deviceY, Int64(n * d), -0.37) } }
        #expect(deviceY == axpy.scalars)
        // Three AdamW steps on one parameter, against NeuralNetwork's Adam.
        let parameter = Parameter(name: "w", value: random([n, d]))
        var (w, m, v) = (parameter.value.scalars, [Float](repeating: 0, count: n * d), [Float](repeating: 0, count: n * d))
        let optimizer = AdamW(learningRate: 1e-2, weightDecay: 0.1)
        let adam: @convention(c) (F, F, F, F, Int64, Float, Float, Float, Float, Float, Float, Float) -> Void = try Self.kernel("adam_step")
        for step in 1...3 {
            let g = random([n, d])
            parameter.gradient = g
            optimizer.step([parameter])
            var deviceG = g.scalars
            let t = Float(step)
            let stepSize = 1e-2 / (1 - Foundation.pow(Float(0.9), t)), correction2 = (1 - Foundation.pow(Float(0.999), t)).squareRoot()
            try Self.launch(n * d) { adam(&w, &deviceG, &m, &v, Int64(n * d), 0.9, 0.999, 1e-8, stepSize, correction2, 0, 1 - 1e-2 * 0.1) }
            #expect(deviceG.allSatisfy { $0 == 0 })
        }
        #expect(Self.relativeError(w, parameter.value.scalars) <= 1e-6)
    }
}
