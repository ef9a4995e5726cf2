import Datasets
import Foundation
import NeuralNetwork
import TensorCore
import Testing
import TestSupport
import Training
@testable import Algorithms

/// The evidence each of the newer rules is the rule its paper describes (rules.md's checks).
@Suite struct LearningRuleChecksTests {
    static let data = AlgorithmBehaviourTests.data

    static func make(_ id: String, sizes: [Int] = [6, 5, 4, 3], seed: UInt64 = 1, options: [String: String] = [:]) -> any TrainingAlgorithm {
        try! AlgorithmRegistry.make(id: id, architecture: .mlp(hiddenWidths: Array(sizes.dropFirst().dropLast())), inputShape: [sizes[0]],
                                    classCount: sizes.last!, options: options, seed: seed).algorithm
    }

    /// `scale·sin(0.37·i + phase)` for i over the row-major elements (as Scripts/rules_golden.py).
    static func table(_ rows: Int, _ columns: Int, phase: Double, scale: Double) -> Tensor {
        Tensor(shape: [rows, columns], scalars: (0..<(rows * columns)).map { Float(scale * sin(0.37 * Double($0) + phase)) })
    }

    /// The golden script's batch: 4 samples of 6 features, labels 0 2 1 2.
    static var goldenBatch: Batch { Batch.testing(inputs: table(4, 6, phase: 0.1, scale: 1), labels: [0, 2, 1, 2]) }

    /// Sets the golden script's weights and biases on `layers` (6-5-4-3).
    static func setGoldenWeights(_ layers: [Linear]) {
        let sizes = [6, 5, 4, 3]
        for (k, layer) in layers.enumerated() {
            layer.weight.value = table(sizes[k + 1], sizes[k], phase: 0.5 + Double(k), scale: 0.6)
            layer.bias?.value = table(1, sizes[k + 1], phase: 1.5 + Double(k), scale: 0.2).reshaped([sizes[k + 1]])
        }
    }

    static func expectClose(_ actual: Tensor, _ expected: [Double], tolerance: Double = 2e-5, _ what: String) {
        #expect(actual.count == expected.count, "\(what): \(actual.count) vs \(expected.count)")
        let worst = zip(actual.scalars, expected).map { abs(Double($0) - $1) / max(1e-3, abs($1)) }.max() ?? 0
        #expect(worst < tolerance, "\(what): worst relative error \(worst)")
    }

    /// Relative distance ‖a − b‖/‖b‖ over several tensors.
    static func relativeError(_ a: [Tensor], _ b: [Tensor]) -> Double {
        var difference = 0.0, norm = 0.0
        for (x, y) in zip(a, b) {
            for (u, v) in zip(x.scalars, y.scalars) { difference += Double(u - v) * Double(u - v); norm += Double(v) * Double(v) }
        }
        return (difference / norm).squareRoot()
    }

    /// BP's gradients of every parameter for one batch (BP's network from the same seed).
    static func backpropagationGradients(_ batch: Batch, sizes: [Int] = [6, 5, 4, 3], seed: UInt64 = 1, golden: Bool = false) -> [Tensor] {
        let bp = make("bp", sizes: sizes, seed: seed) as! Backpropagation
        if golden { setGoldenWeights(bp.network.layers.compactMap { $0 as? Linear }) }
        let loss = SoftmaxCrossEntropy()
        _ = loss.lossAndGradient(logits: bp.network.forward(batch.inputs, mode: .training), labels: batch.labels)
        _ = bp.network.backward(loss.gradient, inputGradient: .notNeeded)
        return bp.network.parameters.map(\.gradient)
    }

    // MARK: FA and sign symmetry

    /// `fa.feedback=symmetric` is BP: the same losses, epoch for epoch, and the same weights.
    @Test func feedbackAlignmentWithSymmetricFeedbackIsBackpropagationBitForBit() {
        let trainer = Trainer(configuration: .init(stopping: StoppingRule(patience: 20, minDelta: 0, maxEpochs: 3), batchSize: 32,
                                                   evaluationBatchSize: 100, seed: 4))
        let bp = Self.make("bp", sizes: [16, 24, 24, 4], seed: 4) as! Backpropagation
        let fa = Self.make("fa", sizes: [16, 24, 24, 4], seed: 4, options: ["fa.feedback": "symmetric"]) as! FeedbackAlignment
        let random = Self.make("fa", sizes: [16, 24, 24, 4], seed: 4)
        let (a, b, c) = (trainer.fit(bp, data: Self.data), trainer.fit(fa, data: Self.data), trainer.fit(random, data: Self.data))
        #expect(a.epochs.map(\.trainLoss) == b.epochs.map(\.trainLoss))
        #expect(a.epochs.map(\.validationLoss) == b.epochs.map(\.validationLoss))
        #expect(a.testAccuracy == b.testAccuracy)
        #expect(bp.network.parameters.map(\.value) == fa.model.trainable.map(\.value))
        #expect(a.epochs.map(\.trainLoss) != c.epochs.map(\.trainLoss), "random feedback is not BP")
    }

    /// FA's random B never changes, and the first hidden layer's gradient is the chain through B
    /// (computed here directly, scalar by scalar).
    @Test func feedbackAlignmentChainsThroughItsFixedMatrices() {
        let fa = Self.make("fa") as! FeedbackAlignment
        let linears = fa.model.linears
        Self.setGoldenWeights(linears)
        let feedback = fa.feedback!
        fa.model.accumulateGradients(Self.goldenBatch, loss: LossSum()) { feedback[$0] }
        // Direct: h1, h2, e; δ2 = (e·B3) ⊙ [a2 > 0]; δ1 = (δ2·B2) ⊙ [a1 > 0]; ∂W1 = δ1ᵀ·x.
        let x = Self.goldenBatch.inputs.scalars, n = 4
        func dense(_ input: [Float], _ layer: Linear) -> [Float] {
            let (o, i) = (layer.outputSize, layer.inputSize), w = layer.weight.value.scalars, b = layer.bias!.value.scalars
            var out = [Float](repeating: 0, count: n * o)
            for r in 0..<(n * o) {
                var sum = b[r % o]
                for j in 0..<i { sum += input[r / o * i + j] * w[r % o * i + j] }
                out[r] = sum
            }
            return out
        }
        let a1 = dense(x, linears[0]), h1 = a1.map { max($0, 0) }
        let a2 = dense(h1, linears[1]), h2 = a2.map { max($0, 0) }
        let z = dense(h2, linears[2])
        var e = [Float](repeating: 0, count: n * 3)
        for r in 0..<n {
            let row = z[(r * 3)..<(r * 3 + 3)], m = row.max()!, sum = row.reduce(0) { $0 + exp($1 - m) }
            for c in 0..<3 { e[r * 3 + c] = (exp(z[r * 3 + c] - m) / sum - (Int(Self.goldenBatch.labels[r]) == c ? 1 : 0)) / Float(n) }
        }
        func back(_ delta: [Float], _ b: Tensor, _ pre: [Float]) -> [Float] {
            let (o, i) = (b.shape[0], b.shape[1]), s = b.scalars
            var out = [Float](repeating: 0, count: n * i)
            for r in 0..<(n * i) where pre[r] > 0 {
                var sum: Float = 0
                for j in 0..<o { sum += delta[r / i * o + j] * s[j * i + r % i] }
                out[r] = sum
            }
            return out
        }
        let d1 = back(back(e, feedback[2], a2), feedback[1], a1)
        var expected = [Double](repeating: 0, count: 5 * 6)
        for k in 0..<(5 * 6) {
            var sum: Float = 0
            for r in 0..<n { sum += d1[r * 5 + k / 6] * x[r * 6 + k % 6] }
            expected[k] = Double(sum)
        }
        Self.expectClose(linears[0].weight.gradient, expected, tolerance: 1e-4, "∂W1")
        let before = feedback
        _ = fa.trainBatch(Self.goldenBatch, stage: 0)
        #expect(fa.feedback! == before, "B is fixed")
    }

    /// uSF's B has W's signs at every step, its scale is Xavier's std, and with W = ±s it is BP
    /// exactly; brSF redraws magnitudes every batch, frSF keeps them.
    @Test(arguments: ["usf", "brsf", "frsf"])
    func signSymmetryFeedbackTracksTheSignsOfTheWeights(variant: String) {
        let sign = Self.make("sign", options: ["sign.variant": variant]) as! SignSymmetry
        var previous: [Tensor] = []
        for step in 0..<3 {
            sign.rebuildFeedback()
            for (index, linear) in sign.model.linears.enumerated().dropFirst() {
                let w = linear.weight.value.scalars, b = sign.feedback[index].scalars
                #expect(zip(w, b).allSatisfy { ($0 > 0) == ($1 > 0) && ($0 < 0) == ($1 < 0) }, "step \(step): sign(B) = sign(W)")
                if variant == "usf" {
                    let s = (2 / Float(linear.inputSize + linear.outputSize)).squareRoot()
                    #expect(b.allSatisfy { abs($0) == s || $0 == 0 })
                }
            }
            let magnitudes = sign.feedback.dropFirst().map { Tensor(shape: $0.shape, scalars: $0.scalars.map(abs)) }
            if step > 0, variant != "usf" {
                #expect((magnitudes == previous) == (variant == "frsf"), "\(variant): magnitudes \(variant == "frsf" ? "kept" : "redrawn")")
            }
            previous = magnitudes
            _ = sign.trainBatch(firstBatch(of: Self.data.train, count: 16).reshapedFeatures(6), stage: 0)
        }
    }

    @Test func uniformSignFeedbackIsBackpropagationWhenTheWeightsAreItsScale() {
        let sign = Self.make("sign") as! SignSymmetry
        let bp = Self.make("bp") as! Backpropagation
        for (s, b) in zip(sign.model.linears, bp.network.layers.compactMap { $0 as? Linear }) {
            let scale = (2 / Float(s.inputSize + s.outputSize)).squareRoot()
            s.weight.value = Tensor(shape: s.weight.value.shape, scalars: s.weight.value.scalars.map { $0 >= 0 ? scale : -scale })
            b.weight.value = s.weight.value
        }
        sign.rebuildFeedback()
        sign.model.accumulateGradients(Self.goldenBatch, loss: LossSum()) { sign.feedback[$0] }
        let loss = SoftmaxCrossEntropy()
        _ = loss.lossAndGradient(logits: bp.network.forward(Self.goldenBatch.inputs, mode: .training), labels: Self.goldenBatch.labels)
        _ = bp.network.backward(loss.gradient, inputGradient: .notNeeded)
        #expect(sign.model.trainable.map(\.gradient) == bp.network.parameters.map(\.gradient))
    }

    // MARK: DRTP and PEPITA against the NumPy reference

    @Test func directRandomTargetProjectionMatchesTheReferenceScript() {
        let drtp = Self.make("drtp") as! DirectRandomTargetProjection
        Self.setGoldenWeights(drtp.hidden.map(\.linear) + [drtp.output])
        drtp.feedback = [Self.table(3, 5, phase: 2.5, scale: 0.7), Self.table(3, 4, phase: 3.5, scale: 0.7)]
        drtp.accumulateGradients(Self.goldenBatch, loss: LossSum())
        let gradients = (drtp.hidden.map(\.linear) + [drtp.output]).flatMap(\.parameters).map(\.gradient)
        for (index, (actual, expected)) in zip(gradients, RulesGolden.drtp).enumerated() { Self.expectClose(actual, expected, "DRTP parameter \(index)") }
    }

    /// DRTP's hidden updates ignore the output layer: two nets differing only there get the same ones.
    @Test func directRandomTargetProjectionHiddenUpdatesNeverSeeTheOutput() {
        func hiddenGradients(outputScale: Float) -> [Tensor] {
            let drtp = Self.make("drtp") as! DirectRandomTargetProjection
            drtp.output.weight.value.scale(by: outputScale)
            drtp.accumulateGradients(Self.goldenBatch, loss: LossSum())
            return drtp.hidden.flatMap(\.linear.parameters).map(\.gradient)
        }
        #expect(hiddenGradients(outputScale: 1) == hiddenGradients(outputScale: -3))
    }

    @Test(arguments: ["modulated", "forward"])
    func pepitaMatchesTheReferenceScript(outputError: String) {
        let pepita = Self.make("pepita", options: ["pepita.dropout": "0", "pepita.output_error": outputError]) as! PEPITA
        Self.setGoldenWeights(pepita.layers)
        pepita.feedback = Self.table(6, 3, phase: 4.5, scale: 0.3)
        pepita.accumulateGradients(Self.goldenBatch, loss: LossSum())
        var expected = RulesGolden.pepita
        if outputError == "forward" { expected[2] = RulesGolden.pepitaForwardOutput }
        // The hidden updates are differences of two passes' activities: float32 cancellation leaves ~1e-4.
        for (index, (layer, values)) in zip(pepita.layers, expected).enumerated() {
            Self.expectClose(layer.weight.gradient, values, tolerance: index < 2 ? 1e-3 : 2e-5, "PEPITA W\(index + 1)")
        }
    }

    /// F = 0 leaves the second pass equal to the first: no hidden update, the delta rule on top.
    @Test func pepitaWithoutFeedbackChangesNoHiddenLayer() {
        let pepita = Self.make("pepita") as! PEPITA
        pepita.feedback.fill(0)
        pepita.accumulateGradients(Self.goldenBatch, loss: LossSum())
        #expect(pepita.layers.dropLast().allSatisfy { $0.weight.gradient.scalars.allSatisfy { $0 == 0 } })
        #expect(pepita.layers.last!.weight.gradient.scalars.contains { $0 != 0 })
    }

    // MARK: Forward gradient

    /// One-hot tangents over every parameter, one at a time, sum to BP's gradient; so does the
    /// mean over many Gaussian tangents, within its sampling error √((P+1)/K).
    @Test func weightPerturbedForwardGradientsAreExactOnABasisAndUnbiased() {
        let fg = Self.make("fg", options: ["fg.perturbation": "weight"]) as! ForwardGradient
        Self.setGoldenWeights(fg.hidden + [fg.output])
        let parameters = fg.parameters(of: 0)
        let truth = Self.backpropagationGradients(Self.goldenBatch, golden: true)
        var target = (parameter: 0, element: 0), drawn = 0
        fg.drawTangent = { tangent, _ in
            tangent.fill(0)
            if drawn == target.parameter { tangent[target.element] = 1 }
            drawn = (drawn + 1) % parameters.count
        }
        var sum = parameters.map { Tensor(zeros: $0.value.shape) }
        for (p, parameter) in parameters.enumerated() {
            for element in 0..<parameter.value.count {
                target = (p, element)
                fg.weightStep(Self.goldenBatch, loss: LossSum())
                for (index, other) in parameters.enumerated() { sum[index].add(other.gradient); other.zeroGradient() }
            }
        }
        #expect(Self.relativeError(sum, truth) < 1e-5, "a full basis gives the gradient")

        fg.drawTangent = { tangent, generator in tangent.fillNormal(key: generator.next()) }
        let k = 20_000, count = parameters.reduce(0) { $0 + $1.value.count }
        for _ in 0..<k { fg.weightStep(Self.goldenBatch, loss: LossSum()) }
        let mean = parameters.map { parameter -> Tensor in var g = parameter.gradient; g.scale(by: 1 / Float(k)); return g }
        let predicted = (Double(count + 1) / Double(k)).squareRoot()
        let error = Self.relativeError(mean, truth)
        #expect(error < 2 * predicted, "relative error \(error), sampling error \(predicted)")
    }

    /// With one-hot tangents on each column of a hidden layer's pre-activation, the activity
    /// estimate (times K) is the exact gradient of that layer's local head loss.
    @Test func activityPerturbedForwardGradientsAreExactOnABasis() {
        let fg = Self.make("fg", options: ["fg.tangents": "5"]) as! ForwardGradient
        Self.setGoldenWeights(fg.hidden + [fg.output])
        var column = 0
        fg.drawTangent = { tangent, _ in
            tangent.fill(0)
            let width = tangent.columns
            for row in 0..<tangent.rows { tangent[row * width + column % width] = 1 }
            column += 1
        }
        // Layer 1 only: its width, 5, is the tangent count.
        fg.activityStep(Self.goldenBatch, loss: LossSum())
        let layer = fg.hidden[0], head = fg.heads[0]
        // Direct: a = x·Wᵀ + b, h = relu(a), E = (softmax(h·Mᵀ + c) − Y)/N, δa = (E·M) ⊙ [a > 0], ∂W = δaᵀ·x.
        var a = Tensor(zeros: [0]), h = Tensor(zeros: [0]), s = Tensor(zeros: [0]), delta = Tensor(zeros: [0]), expected = Tensor(zeros: [0])
        let x = Self.goldenBatch.inputs
        Tensor.matmul(x, .none, layer.weight.value, .transposed, into: &a)
        BiasKernels.addRows(&a, bias: layer.bias!.value)
        ActivationKernels.reluForward(a, into: &h)
        Tensor.matmul(h, .none, head.weight.value, .transposed, into: &s)
        BiasKernels.addRows(&s, bias: head.bias!.value)
        let loss = SoftmaxCrossEntropy()
        _ = loss.lossAndGradient(logits: s, labels: Self.goldenBatch.labels)
        Tensor.matmul(loss.gradient, .none, head.weight.value, .none, into: &delta)
        var masked = Tensor(zeros: [0])
        ActivationKernels.reluBackward(delta, output: h, into: &masked)
        Tensor.matmul(masked, .transposed, x, .none, into: &expected)
        var estimate = layer.weight.gradient
        estimate.scale(by: 5)
        #expect(Self.relativeError([estimate], [expected]) < 1e-5)
    }

    // MARK: Predictive coding

    /// Whittington & Bogacz's limit: with the output energy weighted by β → 0 and the update
    /// divided by β, strict PC's update tends to BP's gradient (error O(β)); at β = 1 it is not BP.
    @Test func predictiveCodingApproachesBackpropagationAsTheOutputErrorShrinks() {
        let truth = Self.backpropagationGradients(Self.goldenBatch, golden: true)
        func error(beta: Double) -> Double {
            let pc = Self.make("pc", options: ["pc.beta": "\(beta)", "pc.T": "400", "pc.gamma": "0.1"]) as! PredictiveCoding
            Self.setGoldenWeights(pc.layers)
            pc.accumulateGradients(Self.goldenBatch, loss: LossSum())
            let update = pc.parameters(of: 0).map { parameter -> Tensor in var g = parameter.gradient; g.scale(by: Float(1 / beta)); return g }
            return Self.relativeError(update, truth)
        }
        let (large, medium, small) = (error(beta: 1), error(beta: 0.1), error(beta: 0.001))
        #expect(large > 0.05, "β = 1 is not BP: \(large)")
        #expect(medium < large && small < medium, "\(large), \(medium), \(small)")
        #expect(small < 0.01, "β = 0.001: \(small)")
    }

    /// PC counts its T inference steps: each adds products, so its FLOPs grow with T.
    @Test func predictiveCodingCountsItsInferenceSteps() {
        func flops(_ steps: Int) -> Int {
            let pc = Self.make("pc", sizes: [16, 24, 24, 4], options: ["pc.T": "\(steps)"])
            let batch = firstBatch(of: Self.data.train, count: 32)
            return OperationCounter.counting { counter in _ = pc.trainBatch(batch, stage: 0); return counter.flops }
        }
        let (one, two, three) = (flops(1), flops(2), flops(3))
        // Per step: a_2 and z recomputed (2·N·(24·24 + 24·4)·…) and two error projections.
        let perStep = 2 * 32 * (24 * 24 + 24 * 4) * 2
        #expect(two - one == perStep && three - two == perStep, "\(one) \(two) \(three)")
    }
}

extension Batch {
    /// The batch with only its first `count` features (a smaller network's input).
    func reshapedFeatures(_ count: Int) -> Batch {
        let n = inputs.rows, d = inputs.columns, s = inputs.scalars
        return .testing(inputs: Tensor(shape: [n, count], scalars: (0..<(n * count)).map { s[$0 / count * d + $0 % count] }), labels: labels.map { $0 % 3 })
    }
}
