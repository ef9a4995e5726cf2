import NeuralNetwork
import TensorCore

/// Finite-difference gradient checks of layers and losses.
///
/// NOTE: bpfree computes in Float32 only (every kernel is specialised for it), so the checks
/// run the product code itself: central differences with the loss accumulated in Double, a step
/// of 1e-2, and a relative tolerance that Float32 rounding cannot reach but a wrong formula
/// (a missing term, a transposed product, a wrong scale) always exceeds.
public enum GradientCheck {
    /// The largest relative error between an analytic and a numeric gradient.
    public static func relativeError(_ analytic: [Float], _ numeric: [Double]) -> Double {
        zip(analytic, numeric).map { a, n in
            abs(Double(a) - n) / max(abs(Double(a)) + abs(n), 1e-2)
        }.max() ?? 0
    }

    /// A fixed random projection `L = Σ r ⊙ y` that turns a layer output into a scalar loss.
    public static func projection(shape: [Int], seed: UInt64) -> Tensor {
        var generator = SeededGenerator(seed: seed, stream: "projection")
        return Tensor(shape: shape, uniformIn: -1...1, using: &generator)
    }

    static func dot(_ a: Tensor, _ b: Tensor) -> Double {
        zip(a.scalars, b.scalars).reduce(0) { $0 + Double($1.0) * Double($1.1) }
    }

    /// Central differences `(L(t + h) − L(t − h)) / 2h` of `loss` at `point`, one scalar at a time.
    public static func numericGradient(at point: Tensor, step: Float, loss: (Tensor) -> Double) -> [Double] {
        var t = point
        var numeric = [Double](repeating: 0, count: t.count)
        for i in 0..<t.count {
            let original = t[i]
            t[i] = original + step; let plus = loss(t)
            t[i] = original - step; let minus = loss(t)
            t[i] = original
            numeric[i] = (plus - minus) / (2 * Double(step))
        }
        return numeric
    }

    /// Checks a layer's input gradient and every parameter gradient against central differences
    /// of `L = Σ r ⊙ layer(x)`. Returns the worst relative error over input and parameters.
    /// `lossMode` is the mode of the perturbed forward passes: `.training` for layers whose
    /// training output depends on the batch (BatchNorm with batch statistics).
    public static func check(layer: any Layer, input: Tensor, step: Float = 1e-2,
                             lossMode: Mode = .inference) -> (input: Double, parameters: [String: Double]) {
        let output = layer.forward(input, mode: .training)
        let r = projection(shape: output.shape, seed: 7)
        layer.parameters.forEach { $0.zeroGradient() }
        let inputGradient = layer.backward(r, inputGradient: .needed)!.scalars
        let parameterGradients = layer.parameters.map { $0.gradient.scalars }

        func loss(_ x: Tensor) -> Double { dot(layer.forward(x, mode: lossMode), r) }

        let numericInput = numericGradient(at: input, step: step, loss: loss)
        var errors: [String: Double] = [:]
        for (parameter, analytic) in zip(layer.parameters, parameterGradients) {
            let original = parameter.value
            let numeric = numericGradient(at: original, step: step) { value in
                parameter.value = value
                return loss(input)
            }
            parameter.value = original
            errors[parameter.name] = relativeError(analytic, numeric)
        }
        return (relativeError(inputGradient, numericInput), errors)
    }
}
