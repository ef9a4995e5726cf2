import Foundation
@_exported import Randomness

extension Tensor {
    /// A tensor with scalars uniform in [lower, upper).
    public init(shape: [Int], uniformIn range: ClosedRange<Float>, using generator: inout SeededGenerator) {
        self.init(uninitialized: shape)
        fillUniform(in: range, using: &generator)
    }
}

extension Tensor {
    /// A tensor with standard normal scalars (Box–Muller), scaled by `standardDeviation`.
    public init(shape: [Int], normalWithStandardDeviation standardDeviation: Float = 1, using generator: inout SeededGenerator) {
        self.init(uninitialized: shape)
        fillNormal(standardDeviation: standardDeviation, using: &generator)
    }
}
