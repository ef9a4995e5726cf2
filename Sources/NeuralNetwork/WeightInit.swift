import TensorCore

/// How a layer's weights and bias start (fan_in = inputs per output unit, fan_out = outputs).
public enum WeightInit: Sendable, Equatable {
    /// PyTorch's default (Kaiming-uniform with a = √5): weight and bias U(±1/√fan_in).
    case pytorch
    /// Kaiming-uniform for ReLU (`kaiming_uniform_(nonlinearity="relu")`): weight
    /// U(±√(6/fan_in)), bias 0.
    case kaimingReLU
    /// Weight N(0, σ²), bias 0.
    case normal(standardDeviation: Float)

    /// A weight of `shape` (first extent fan_out, the rest fan_in).
    public func weight(_ shape: [Int], fanIn: Int, using generator: inout SeededGenerator) -> Tensor {
        switch self {
        case .pytorch:
            let bound = 1 / Float(fanIn).squareRoot()
            return Tensor(shape: shape, uniformIn: -bound...bound, using: &generator)
        case .kaimingReLU:
            let bound = (6 / Float(fanIn)).squareRoot()
            return Tensor(shape: shape, uniformIn: -bound...bound, using: &generator)
        case .normal(let standardDeviation):
            return Tensor(shape: shape, normalWithStandardDeviation: standardDeviation, using: &generator)
        }
    }

    /// A bias of `count` units, drawn after the weight.
    func bias(_ count: Int, fanIn: Int, using generator: inout SeededGenerator) -> Tensor {
        guard self == .pytorch else { return Tensor(zeros: [count]) }
        let bound = 1 / Float(fanIn).squareRoot()
        return Tensor(shape: [count], uniformIn: -bound...bound, using: &generator)
    }
}
