import Testing
@testable import TensorCore

/// A naive reference product in Double.
func referenceProduct(_ a: Tensor, _ ta: Bool, _ b: Tensor, _ tb: Bool) -> [Double] {
    let (m, k) = ta ? (a.columns, a.rows) : (a.rows, a.columns)
    let n = tb ? b.rows : b.columns
    let av = a.scalars, bv = b.scalars
    var c = [Double](repeating: 0, count: m * n)
    for i in 0..<m {
        for j in 0..<n {
            var sum = 0.0
            for p in 0..<k {
                let x = ta ? av[p * a.columns + i] : av[i * a.columns + p]
                let y = tb ? bv[j * b.columns + p] : bv[p * b.columns + j]
                sum += Double(x) * Double(y)
            }
            c[i * n + j] = sum
        }
    }
    return c
}

@Suite struct MatrixProductTests {
    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func matchesNaiveProductForEveryTransposeCombination(ta: Bool, tb: Bool) {
        var generator = SeededGenerator(seed: 3)
        let (m, n, k) = (5, 7, 9)
        let a = Tensor(shape: ta ? [k, m] : [m, k], uniformIn: -1...1, using: &generator)
        let b = Tensor(shape: tb ? [n, k] : [k, n], uniformIn: -1...1, using: &generator)
        var c = Tensor(zeros: [0])
        let flops = OperationCounter.counting { counter in
            Tensor.matmul(a, ta ? .transposed : .none, b, tb ? .transposed : .none, into: &c)
            return counter.flops
        }
        #expect(flops == 2 * m * n * k)
        #expect(c.shape == [m, n])
        let expected = referenceProduct(a, ta, b, tb)
        for (x, y) in zip(c.scalars, expected) { #expect(abs(Double(x) - y) < 1e-5) }
    }

    @Test func accumulatesWithBetaOne() {
        let a = Tensor(shape: [2, 2], scalars: [1, 2, 3, 4])
        let b = Tensor(shape: [2, 2], scalars: [1, 0, 0, 1])
        var c = Tensor(shape: [2, 2], scalars: [10, 10, 10, 10])
        Tensor.matmul(a, .none, b, .none, into: &c, beta: 1)
        #expect(c.scalars == [11, 12, 13, 14])
    }

    @Test func countsTwoMNKPerProduct() {
        let a = Tensor(zeros: [3, 4]), b = Tensor(zeros: [4, 5])
        var c = Tensor(zeros: [3, 5])
        let (flops, allocations) = OperationCounter.counting { counter in
            Tensor.matmul(a, .none, b, .none, into: &c)
            return (counter.flops, counter.allocations)
        }
        #expect(flops == 2 * 3 * 4 * 5)
        #expect(allocations == 0, "an output of the right shape is reused")
        #expect(OperationCounter.process.flops >= flops)
    }
}

/// LAPACK through OpenBLAS: the pseudo-inverse path at a size whose workspace does not fit a Float.
@Suite struct NormalEquationsTests {
    @Test func symmetricEigenWorksWhereTheWorkspaceSizeExceedsFloatPrecision() {
        // 1 + 6n + 2n² > 2^24 for n = 3000: the queried Float size alone would be rejected.
        let n = 3000
        var a = Tensor(zeros: [n, n])
        a.withUnsafeMutablePointer { p in for i in 0..<n { p[i * n + i] = Float(i % 7) } }   // singular: zeros on the diagonal
        let values = a.withUnsafeMutablePointer { BLAS.symmetricEigen($0, n: n) }
        #expect(values?.count == n)
        #expect(values?.first == 0 && values?.last == 6)
    }
}
