@_exported import Randomness

extension Tensor {
    /// A tensor with scalars uniform in [lower, upper).
    public init(shape: [Int], uniformIn range: ClosedRange<Float>, using generator: inout SeededGenerator) {
        self.init(uninitialized: shape)
        let n = count
        let width = range.upperBound - range.lowerBound
        withUnsafeMutablePointer { p in
            for i in 0..<n { p[i] = range.lowerBound + width * generator.nextUnitFloat() }
        }
    }
}
