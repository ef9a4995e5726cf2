import NeuralNetwork
import TensorCore
import Testing

/// Optimizer steps against PyTorch (Scripts/optimizer_golden.py).
@Suite struct OptimizerTests {
    static func run(_ optimizer: some Optimizer) -> [[Float]] {
        let parameter = Parameter(name: "p", value: Tensor(shape: [OptimizerGolden.initial.count], scalars: OptimizerGolden.initial))
        var steps: [[Float]] = []
        for gradient in OptimizerGolden.gradients {
            parameter.gradient = Tensor(shape: [gradient.count], scalars: gradient)
            optimizer.step([parameter])
            steps.append(parameter.value.scalars)
            #expect(parameter.gradient.scalars.allSatisfy { $0 == 0 }, "the step zeroes the gradient")
        }
        return steps
    }

    static func expectClose(_ actual: [[Float]], _ expected: [[Float]]) {
        for (step, (a, e)) in zip(actual, expected).enumerated() {
            for (i, (x, y)) in zip(a, e).enumerated() {
                #expect(abs(x - y) <= 1e-6 + 1e-5 * abs(y), "step \(step + 1), element \(i): \(x) vs \(y)")
            }
        }
    }

    @Test func sgd() { Self.expectClose(Self.run(SGD(learningRate: 0.1)), OptimizerGolden.sgd) }

    @Test func sgdWithMomentumAndDecay() {
        Self.expectClose(Self.run(SGD(learningRate: 0.05, momentum: 0.9, weightDecay: 0.01)), OptimizerGolden.sgdMomentumDecay)
    }

    @Test func sgdNesterov() {
        Self.expectClose(Self.run(SGD(learningRate: 0.05, momentum: 0.9, nesterov: true)), OptimizerGolden.sgdNesterov)
    }

    @Test func adamWithL2Decay() {
        Self.expectClose(Self.run(Adam(learningRate: 0.01, weightDecay: 0.05)), OptimizerGolden.adamL2)
    }

    @Test func adamW() {
        Self.expectClose(Self.run(AdamW(learningRate: 0.01, weightDecay: 0.1)), OptimizerGolden.adamW)
    }

    @Test func adamWWithOtherBetasAndEpsilon() {
        Self.expectClose(Self.run(AdamW(learningRate: 0.003, beta1: 0.8, beta2: 0.99, epsilon: 1e-4, weightDecay: 0.02)),
                         OptimizerGolden.adamWCustomBetas)
    }

    @Test func adamAndAdamWDifferWhenDecaying() {
        #expect(Self.run(Adam(learningRate: 0.01, weightDecay: 0.1)) != Self.run(AdamW(learningRate: 0.01, weightDecay: 0.1)))
    }
}
