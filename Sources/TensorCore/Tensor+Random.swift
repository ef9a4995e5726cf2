import Foundation
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

extension Tensor {
    /// A tensor with standard normal scalars (Box–Muller), scaled by `standardDeviation`.
    public init(shape: [Int], normalWithStandardDeviation standardDeviation: Float = 1, using generator: inout SeededGenerator) {
        self.init(uninitialized: shape)
        let n = count
        withUnsafeMutablePointer { p in
            var i = 0
            while i < n {
                let u1 = max(generator.nextUnitDouble(), .leastNormalMagnitude), u2 = generator.nextUnitDouble()
                let radius = (-2 * Foundation.log(u1)).squareRoot()
                p[i] = Float(radius * Foundation.cos(2 * .pi * u2)) * standardDeviation
                if i + 1 < n { p[i + 1] = Float(radius * Foundation.sin(2 * .pi * u2)) * standardDeviation }
                i += 2
            }
        }
    }
}
