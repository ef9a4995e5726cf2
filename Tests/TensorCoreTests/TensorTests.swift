import Testing
@testable import TensorCore

@Suite struct TensorTests {
    @Test func copyOnWriteKeepsValueSemantics() {
        var a = Tensor(shape: [2, 2], scalars: [1, 2, 3, 4])
        let b = a
        a[0] = 9
        #expect(b.scalars == [1, 2, 3, 4])
        #expect(a.scalars == [9, 2, 3, 4])
    }

    @Test func resizeReusesStorageWhenItFits() {
        var a = Tensor(zeros: [100, 10])
        let allocations = OperationCounter.counting { counter in
            a.resize(to: [50, 10])
            a.resize(to: [100, 10])
            return counter.allocations
        }
        #expect(a.shape == [100, 10])
        #expect(allocations == 0)
        #expect(OperationCounter.counting { counter in a.resize(to: [101, 10]); return counter.allocations } == 1)
    }

    @Test func reshapeSharesStorage() {
        let a = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        let b = a.reshaped([3, 2])
        #expect(b.shape == [3, 2])
        #expect(a.storage === b.storage)
        #expect(b.columns == 2 && b.rows == 3)
    }

    @Test func accountingTracksLiveBytes() {
        let before = TensorMemory.liveBytes
        do {
            let t = Tensor(zeros: [1000])
            #expect(TensorMemory.liveBytes >= before + 4000 - 1_000_000 || t.count == 1000)
            #expect(TensorMemory.peakBytes >= 4000)
        }
    }
}

@Suite struct SeededGeneratorTests {
    @Test func sameSeedSameStream() {
        var a = SeededGenerator(seed: 42), b = SeededGenerator(seed: 42), c = SeededGenerator(seed: 43)
        let sa = (0..<100).map { _ in a.next() }, sb = (0..<100).map { _ in b.next() }, sc = (0..<100).map { _ in c.next() }
        #expect(sa == sb)
        #expect(sa != sc)
    }

    @Test func namedStreamsDiffer() {
        var a = SeededGenerator(seed: 1, stream: "weights"), b = SeededGenerator(seed: 1, stream: "shuffle")
        #expect(a.next() != b.next())
    }

    @Test func unitFloatsAreInRangeAndUniform() {
        var g = SeededGenerator(seed: 5)
        let values = (0..<100_000).map { _ in g.nextUnitFloat() }
        #expect(values.allSatisfy { $0 >= 0 && $0 < 1 })
        let mean = values.reduce(0, +) / Float(values.count)
        #expect(abs(mean - 0.5) < 0.01)
    }

    @Test func boundedIntegersCoverTheRangeEvenly() {
        var g = SeededGenerator(seed: 9)
        var counts = [Int](repeating: 0, count: 7)
        for _ in 0..<70_000 { counts[g.nextInt(below: 7)] += 1 }
        #expect(counts.allSatisfy { abs($0 - 10_000) < 500 })
    }

    @Test func shuffleIsAPermutationAndReproducible() {
        var a = Array(0..<50), b = Array(0..<50)
        var g1 = SeededGenerator(seed: 3), g2 = SeededGenerator(seed: 3)
        g1.shuffle(&a); g2.shuffle(&b)
        #expect(a == b)
        #expect(a.sorted() == Array(0..<50))
        #expect(a != Array(0..<50))
    }
}
