import Foundation
import Testing
@testable import TensorCore

/// The row and column primitives the learning rules are written in, each against a direct
/// computation on small hand-built tensors.
@Suite struct RowPrimitiveTests {
    /// 3×4: row r holds 10r + j.
    let x = Tensor(shape: [3, 4], scalars: (0..<3).flatMap { r in (0..<4).map { Float(10 * r + $0) } })

    @Test func rowsAreCopiedGatheredSetAndAdded() {
        var y = Tensor(zeros: [0])
        y.assignRows(1..<3, of: x, rowShape: [2, 2])
        #expect(y.shape == [2, 2, 2] && y.scalars == [10, 11, 12, 13, 20, 21, 22, 23])
        y.gatherRows([2, 0, 2], of: x)
        #expect(y.shape == [3, 4] && y.scalars == [20, 21, 22, 23, 0, 1, 2, 3, 20, 21, 22, 23])
        var z = Tensor(zeros: [4, 4])
        z.setRows(startingAt: 1, to: x.reshaped([3, 2, 2]))
        #expect(z.scalars == [0, 0, 0, 0] + x.scalars)
        z.addToRows(startingAt: 2, Tensor(shape: [1, 4], repeating: 1))
        #expect(z.scalars[8..<12] == [11, 12, 13, 14] && z.scalars[12..<16] == [20, 21, 22, 23])
        y.assignRepeatedRows(of: x, copies: 2)
        #expect(y.shape == [6, 4] && y.scalars == x.scalars + x.scalars)
    }

    @Test func columnsAreSetEmbeddedAndTransposedIn() {
        var y = Tensor(zeros: [3, 6])
        y.setColumns(startingAt: 2, to: x)
        let expected: [Float] = [0, 0, 0, 1, 2, 3, 0, 0, 10, 11, 12, 13, 0, 0, 20, 21, 22, 23]
        #expect(y.scalars == expected)
        y.setLeadingColumns(oneHot: [1, 0, 2] as [Int32], classCount: 3, value: 5)
        #expect(y.scalars.enumerated().filter { $0.offset % 6 < 3 }.map(\.element) == [0, 5, 0, 5, 0, 0, 0, 0, 5])
        y.fillLeadingColumns(2, with: 0.5)
        #expect((0..<3).allSatisfy { y[$0 * 6] == 0.5 && y[$0 * 6 + 1] == 0.5 && y[$0 * 6 + 2] != 0.5 })
        y.assignOneHot([2, 0] as [Int32], classCount: 3)
        #expect(y.shape == [2, 3] && y.scalars == [0, 0, 1, 1, 0, 0])
        // self[start + r, j] += m[j, r]: m is 4×2 (candidates × samples) into rows 1...2.
        var scores = Tensor(zeros: [3, 4])
        scores.addTransposed(Tensor(shape: [4, 2], scalars: [1, 2, 3, 4, 5, 6, 7, 8]), atRow: 1)
        #expect(scores.scalars == [0, 0, 0, 0, 1, 3, 5, 7, 2, 4, 6, 8])
    }

    @Test func rowReductionsMatchDirectComputation() {
        let z = Tensor(shape: [3, 3], scalars: [1, 3, 3, -1, -2, -3, .nan, 2, 1])
        // First maximum wins a tie; NaN never wins.
        #expect(z.countArgmaxMatches([1, 0, 1] as [Int32]) == 3)
        #expect(z.countArgmaxMatches([2, 1, 0] as [Int32]) == 0)
        var p = Tensor(zeros: [0])
        let logits = Tensor(shape: [2, 3], scalars: [1, 2, 3, 1000, 1000, 0])
        logits.softmaxRows(into: &p)
        let e = [1, 2, 3].map { Foundation.exp(Double($0)) }
        for j in 0..<3 { #expect(abs(Double(p[j]) - e[j] / e.reduce(0, +)) < 1e-6) }
        #expect(abs(p[3] - 0.5) < 1e-6 && abs(p[4] - 0.5) < 1e-6 && p[5] == 0)
        var sums = Tensor(zeros: [0])
        x.rowSquaredSums(scale: 0.5, into: &sums)
        // 0.5·(0+1+4+9), 0.5·(100+121+144+169), 0.5·(400+441+484+529).
        #expect(sums.scalars == [7, 267, 927])
        var unit = Tensor(zeros: [0])
        x.normalizeRows(into: &unit, kind: .l2, epsilon: 0)
        #expect(abs(unit.scalars[4..<8].reduce(0) { $0 + $1 * $1 } - 1) < 1e-6)
        var y = x
        y.add(x, scaledBy: -2)
        #expect(y.scalars == x.scalars.map { -$0 })
    }

    @Test func noPrimitiveAllocatesOnceItsDestinationHasGrown() {
        var y = Tensor(zeros: [0]), p = Tensor(zeros: [0]), sums = Tensor(zeros: [0]), unit = Tensor(zeros: [0])
        var wide = Tensor(zeros: [3, 6])
        func run() {
            y.gatherRows([2, 0, 1], of: x)
            y.assignRows(0..<3, of: x)
            y.setRows(startingAt: 0, to: x)
            y.addToRows(startingAt: 0, x)
            wide.setColumns(startingAt: 1, to: x)
            wide.setLeadingColumns(oneHot: [0, 1, 2] as [Int32], classCount: 3, value: 1)
            x.softmaxRows(into: &p)
            x.rowSquaredSums(into: &sums)
            x.normalizeRows(into: &unit, kind: .rms, epsilon: 1e-8)
            _ = x.countArgmaxMatches([0, 1, 2] as [Int32])
        }
        run()
        #expect(OperationCounter.counting { counter in run(); return counter.allocations } == 0)
    }
}
