import Foundation
import Testing
@testable import TensorCore

@Suite struct KernelTests {
    @Test func softmaxCrossEntropyMatchesDoubleReferenceAndIsStable() {
        // Row 2 has logits near ±1000: a naive exp would overflow.
        let logits = Tensor(shape: [3, 4], scalars: [0.5, -1, 2, 0.1, 3, 3, 3, 3, 1000, -1000, 999, 0])
        let labels: [Int32] = [2, 1, 2]
        var gradient = [Float](repeating: 0, count: 12)
        let result = labels.withUnsafeBufferPointer { l in
            gradient.withUnsafeMutableBufferPointer { g in
                SoftmaxKernels.crossEntropy(logits: logits, labels: l, gradient: g.baseAddress!, gradientScale: 1)
            }
        }
        var expectedLoss = 0.0
        for r in 0..<3 {
            let z = (0..<4).map { Double(logits[r * 4 + $0]) }
            let m = z.max()!
            let sum = z.map { exp($0 - m) }.reduce(0, +)
            expectedLoss += log(sum) + m - z[Int(labels[r])]
            for j in 0..<4 {
                let p = exp(z[j] - m) / sum - (j == Int(labels[r]) ? 1 : 0)
                #expect(abs(Double(gradient[r * 4 + j]) - p) < 1e-6)
            }
        }
        #expect(abs(result.lossSum - expectedLoss) < 1e-4)
        #expect(result.lossSum.isFinite)
        // Row 0 argmax 2 = label; row 1 ties resolve to index 0 ≠ 1; row 2 argmax 0 ≠ 2.
        #expect(result.correct == 1)
    }

    @Test func reluAndTanhKernelsMatchTheirDefinitions() {
        let x = Tensor(shape: [2, 3], scalars: [-2, -0.5, 0.25, 1, 3, -4])
        var y = Tensor(zeros: [0])
        ActivationKernels.reluForward(x, into: &y)
        #expect(y.scalars == [0, 0, 0.25, 1, 3, 0])
        let g = Tensor(shape: [2, 3], repeating: 2)
        var dx = Tensor(zeros: [0])
        ActivationKernels.reluBackward(g, output: y, into: &dx)
        #expect(dx.scalars == [0, 0, 2, 2, 2, 0])
        ActivationKernels.tanhForward(x, into: &y)
        for i in 0..<6 { #expect(abs(y[i] - Foundation.tanh(x[i])) < 1e-7) }
        ActivationKernels.tanhBackward(g, output: y, into: &dx)
        for i in 0..<6 { #expect(abs(dx[i] - 2 * (1 - y[i] * y[i])) < 1e-6) }
    }

    @Test func biasKernelsAddRowsAndSumColumns() {
        var y = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        BiasKernels.addRows(&y, bias: Tensor(shape: [3], scalars: [10, 20, 30]))
        #expect(y.scalars == [11, 22, 33, 14, 25, 36])
        var db = Tensor(shape: [3], scalars: [1, 1, 1])
        BiasKernels.accumulateColumnSums(of: y, into: &db)
        #expect(db.scalars == [26, 48, 70])
    }

    @Test func parallelChunksCoverEveryIndexOnce() {
        let n = 100_003
        let marks = UnsafeMutablePointer<Int32>.allocate(capacity: n)
        marks.initialize(repeating: 0, count: n)
        defer { marks.deallocate() }
        struct Box: @unchecked Sendable { let p: UnsafeMutablePointer<Int32> }
        let box = Box(p: marks)
        Parallel.forEachChunk(count: n, grain: 1000, threads: 2) { range in
            for i in range { box.p[i] += 1 }
        }
        #expect((0..<n).allSatisfy { marks[$0] == 1 })
    }
}
