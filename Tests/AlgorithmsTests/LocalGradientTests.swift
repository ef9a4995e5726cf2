import Datasets
import NeuralNetwork
import TensorCore
import Testing
import TestSupport
import Training
@testable import Algorithms

/// Finite-difference checks of every local loss and the DFA update rule.
@Suite struct LocalGradientTests {
    static let tolerance = 2e-2

    @Test func monoForwardLayerLossWithRespectToWBAndM() {
        let mf = build("mf", widths: [6]) as! MonoForward
        let unit = mf.units[0]
        let data = syntheticSplits()
        let batch = firstBatch(of: data.train, count: 5)
        let loss = SoftmaxCrossEntropy()
        unit.parameters.forEach { $0.zeroGradient() }
        _ = unit.accumulateGradients(batch.inputs, batch: batch, loss: loss, total: LossSum())
        func localLoss() -> Double {
            let g = unit.projection.forward(unit.activations(batch.inputs, mode: .inference), mode: .inference)
            return SoftmaxCrossEntropy.evaluate(logits: g, labels: batch.labels).lossSum / 5
        }
        #expect(unit.parameters.map(\.name) == ["layer1.weight", "layer1.bias", "layer1.projection.weight"])
        for parameter in unit.parameters {
            let original = parameter.value
            let numeric = GradientCheck.numericGradient(at: original, step: 1e-2) { parameter.value = $0; return localLoss() }
            parameter.value = original
            #expect(GradientCheck.relativeError(parameter.gradient.scalars, numeric) < Self.tolerance, "\(parameter.name)")
        }
    }

    /// FF layer loss plus peer normalisation, checked where every unit is on (Z > 0), so the
    /// ungated peer gradient equals the true gradient.
    @Test(arguments: ["sum", "mean"])
    func forwardForwardLayerLossWithPeerNormalization(goodness: String) {
        let d = 5
        let options = ["ff.goodness": goodness, "ff.threshold": goodness == "sum" ? "3" : "0.8"]
        let ff = build("ff", widths: [d], inputSize: 8, classCount: 2, options: options) as! ForwardForward
        let unit = ff.units[0]
        var generator = SeededGenerator(seed: 4)
        unit.linear.weight.value = Tensor(shape: [d, 8], uniformIn: 0.05...0.4, using: &generator)
        unit.linear.bias!.value = Tensor(shape: [d], uniformIn: 0.1...0.3, using: &generator)
        let x = Tensor(shape: [6, 8], uniformIn: 0.2...1, using: &generator)  // rows 0-2 positive, 3-5 negative
        let r0 = Tensor(shape: [d], uniformIn: 0.3...0.8, using: &generator)
        let (weight, momentum): (Float, Float) = (0.5, 0.9)

        func loss() -> Double {
            let h = unit.forward(x, settings: ff.settings, mode: .inference)
            var gradient = Tensor(zeros: [0])
            var running = r0
            let ffLoss = LossSum()
            ForwardForwardLoss.lossAndGradient(h, positives: 3, threshold: unit.threshold, kind: ff.settings.goodness, gradient: &gradient,
                                               adding: 1.0 / 6, to: ffLoss)
            ForwardForwardLoss.peerNormalization(h, positives: 3, runningMean: &running, weight: weight, momentum: momentum, gradient: &gradient)
            let penalty = ForwardForwardLoss.peerPenalty(running)
            return ffLoss.value + Double(weight * penalty)
        }
        unit.linear.parameters.forEach { $0.zeroGradient() }
        let h = unit.forward(x, settings: ff.settings, mode: .training)
        var running = r0
        ForwardForwardLoss.lossAndGradient(h, positives: 3, threshold: unit.threshold, kind: ff.settings.goodness, gradient: &unit.gradient,
                                           adding: 1, to: LossSum())
        ForwardForwardLoss.peerNormalization(h, positives: 3, runningMean: &running, weight: weight, momentum: momentum, gradient: &unit.gradient)
        _ = unit.linear.backward(unit.gradient, inputGradient: .notNeeded)
        #expect(h.scalars.allSatisfy { $0 > 0 }, "every unit on, so gating cannot matter")
        for parameter in unit.linear.parameters {
            let original = parameter.value
            let numeric = GradientCheck.numericGradient(at: original, step: 1e-3) { parameter.value = $0; return loss() }
            parameter.value = original
            #expect(GradientCheck.relativeError(parameter.gradient.scalars, numeric) < Self.tolerance, "\(parameter.name)")
        }
    }

    @Test func peerNormalizationGradientReachesDeadUnits() {
        // Unit 1 is off for every row; its running mean is below the layer mean, so peer
        // normalisation pushes its pre-activation up even though the ReLU blocks the FF term.
        let h = Tensor(shape: [2, 2], scalars: [2, 0, 3, 0])
        var running = Tensor(shape: [2], scalars: [0.5, 0.5])
        var gradient = Tensor(zeros: [2, 2])
        ForwardForwardLoss.peerNormalization(h, positives: 2, runningMean: &running, weight: 0.03, momentum: 0.9, gradient: &gradient)
        #expect(abs(running[0] - 0.7) < 1e-6 && abs(running[1] - 0.45) < 1e-6)
        #expect(gradient[1] < 0 && gradient[3] < 0, "dead unit 1 gets a (descent-increasing) gradient")
        #expect(gradient[0] > 0)
    }

    @Test func dfaUpdateEqualsTheFormulaWithTheStoredFeedback() {
        let dfa = build("dfa", widths: [7, 5]) as! DirectFeedbackAlignment
        let data = syntheticSplits()
        let batch = firstBatch(of: data.train, count: 6)
        dfa.parameters(of: 0).forEach { $0.zeroGradient() }
        dfa.accumulateGradients(batch, loss: LossSum())

        // Reference: forward by hand, e = (softmax − Y)/N, δh = e·B, δa = δh ⊙ 1[a > 0], dW = δaᵀ·h_{ℓ−1}.
        var inputs: [Tensor] = [batch.inputs]
        var outputs: [Tensor] = []
        for layer in dfa.hidden {
            var z = Tensor(zeros: [0])
            Tensor.matmul(inputs.last!, .none, layer.linear.weight.value, .transposed, into: &z)
            BiasKernels.addRows(&z, bias: layer.linear.bias!.value)
            var a = Tensor(zeros: [0])
            ActivationKernels.reluForward(z, into: &a)
            outputs.append(a)
            inputs.append(a)
        }
        var logits = Tensor(zeros: [0])
        Tensor.matmul(inputs.last!, .none, dfa.output.weight.value, .transposed, into: &logits)
        BiasKernels.addRows(&logits, bias: dfa.output.bias!.value)
        var e = Tensor(zeros: logits.shape)
        _ = batch.labels.withUnsafeBufferPointer { labels in
            e.withUnsafeMutablePointer { SoftmaxKernels.crossEntropy(logits: logits, labels: labels, gradient: $0, gradientScale: 1 / 6) }
        }
        for (index, layer) in dfa.hidden.enumerated() {
            var signal = Tensor(zeros: [0])
            Tensor.matmul(e, .none, dfa.feedback[index], .none, into: &signal)
            var da = Tensor(zeros: [0])
            ActivationKernels.reluBackward(signal, output: outputs[index], into: &da)
            var expected = Tensor(zeros: [0])
            Tensor.matmul(da, .transposed, inputs[index], .none, into: &expected)
            for (a, b) in zip(layer.linear.weight.gradient.scalars, expected.scalars) { #expect(abs(a - b) < 1e-6) }
        }
        var expectedOutput = Tensor(zeros: [0])
        Tensor.matmul(e, .transposed, inputs.last!, .none, into: &expectedOutput)
        for (a, b) in zip(dfa.output.weight.gradient.scalars, expectedOutput.scalars) { #expect(abs(a - b) < 1e-6) }
    }

    @Test func dfaFeedbackIsSeededApartFromTheWeights() {
        let a = build("dfa", widths: [8], seed: 1) as! DirectFeedbackAlignment
        let b = build("dfa", widths: [8], seed: 1) as! DirectFeedbackAlignment
        #expect(a.feedback == b.feedback)
        let bound = 1 / Float(8).squareRoot()
        #expect(a.feedback[0].shape == [4, 8])
        #expect(a.feedback[0].scalars.allSatisfy { abs($0) <= bound })
        #expect(a.feedback[0].scalars != a.hidden[0].linear.weight.value.scalars.prefix(32).map { $0 })
    }

    @Test func dfaWithTanhStartsFromZero() {
        let dfa = build("dfa", widths: [8], options: ["dfa.nonlinearity": "tanh"]) as! DirectFeedbackAlignment
        #expect(dfa.parameters(of: 0).allSatisfy { $0.value.scalars.allSatisfy { $0 == 0 } })
        #expect(dfa.hidden[0].activation is Tanh)
    }
}
