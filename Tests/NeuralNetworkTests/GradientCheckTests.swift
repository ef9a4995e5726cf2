import NeuralNetwork
import TensorCore
import Testing
import TestSupport

/// Finite-difference checks of every layer's input and parameter gradients.
@Suite struct GradientCheckTests {
    static let tolerance = 2e-2

    /// Inputs kept away from ReLU's kink at 0 so that ±step never crosses it.
    static func input(_ shape: [Int], seed: UInt64) -> Tensor {
        var generator = SeededGenerator(seed: seed)
        var x = Tensor(shape: shape, uniformIn: 0.1...1, using: &generator)
        for i in 0..<x.count where generator.nextUnitFloat() < 0.5 { x[i] = -x[i] }
        return x
    }

    @Test(arguments: [true, false])
    func linear(bias: Bool) {
        var generator = SeededGenerator(seed: 11)
        let layer = Linear(inputSize: 5, outputSize: 4, bias: bias, using: &generator)
        let result = GradientCheck.check(layer: layer, input: Self.input([3, 5], seed: 1))
        #expect(result.input < Self.tolerance)
        #expect(result.parameters.count == (bias ? 2 : 1))
        for (name, error) in result.parameters { #expect(error < Self.tolerance, "\(name)") }
    }

    @Test func relu() {
        let result = GradientCheck.check(layer: ReLU(), input: Self.input([4, 6], seed: 2))
        #expect(result.input < Self.tolerance)
    }

    @Test func tanh() {
        let result = GradientCheck.check(layer: Tanh(), input: Self.input([4, 6], seed: 3))
        #expect(result.input < Self.tolerance)
    }

    @Test func flatten() {
        let result = GradientCheck.check(layer: Flatten(), input: Self.input([2, 1, 3, 4], seed: 4))
        #expect(result.input < Self.tolerance)
    }

    @Test func sequentialMLP() {
        var generator = SeededGenerator(seed: 12)
        // Small weights keep pre-activations away from 0 less reliably, so use a tanh MLP here
        // and a ReLU MLP with inputs far from the kink below.
        let network = Sequential([
            Flatten(),
            Linear(inputSize: 6, outputSize: 5, name: "l1", using: &generator), Tanh(),
            Linear(inputSize: 5, outputSize: 4, name: "l2", using: &generator), Tanh(),
            Linear(inputSize: 4, outputSize: 3, name: "out", using: &generator),
        ])
        let result = GradientCheck.check(layer: network, input: Self.input([3, 2, 3], seed: 5))
        #expect(result.input < Self.tolerance)
        #expect(result.parameters.count == 6)
        for (name, error) in result.parameters { #expect(error < Self.tolerance, "\(name)") }
    }

    @Test func reluMLPAwayFromKinks() {
        var generator = SeededGenerator(seed: 13)
        let first = Linear(weight: Tensor(shape: [3, 2], scalars: [1, 0.5, -0.5, 1, 0.8, -0.6]),
                           bias: Tensor(shape: [3], scalars: [0.1, -0.2, 0.05]), name: "l1")
        let network = Sequential([first, ReLU(), Linear(inputSize: 3, outputSize: 2, name: "out", using: &generator)])
        let x = Tensor(shape: [2, 2], scalars: [1.0, 0.4, -0.7, 0.9])
        let result = GradientCheck.check(layer: network, input: x, step: 1e-3)
        #expect(result.input < Self.tolerance)
        for (name, error) in result.parameters { #expect(error < Self.tolerance, "\(name)") }
    }

    @Test func softmaxCrossEntropyGradient() {
        let logits = Self.input([4, 5], seed: 6)
        let labels: [Int32] = [0, 3, 4, 1]
        let loss = SoftmaxCrossEntropy()
        _ = loss.lossAndGradient(logits: logits, labels: labels)
        let analytic = loss.gradient.scalars
        let numeric = GradientCheck.numericGradient(at: logits, step: 1e-2) {
            SoftmaxCrossEntropy.evaluate(logits: $0, labels: labels).lossSum / 4
        }
        #expect(GradientCheck.relativeError(analytic, numeric) < Self.tolerance)
    }

    @Test func gradientCheckDetectsAWrongGradient() {
        // The check itself must be able to fail: a layer whose backward doubles the gradient.
        final class Wrong: Layer {
            func forward(_ input: Tensor, mode: Mode) -> Tensor { input }
            func backward(_ g: Tensor, inputGradient: InputGradient) -> Tensor? {
                Tensor(shape: g.shape, scalars: g.scalars.map { $0 * 2 })
            }
        }
        #expect(GradientCheck.check(layer: Wrong(), input: Self.input([2, 3], seed: 7)).input > 0.2)
    }
}
