@testable import NeuralNetwork
import TensorCore
import Testing
import TestSupport

/// Gradient checks and reference values of the CNN layers (channels-last feature maps).
@Suite struct ConvolutionTests {
    static let tolerance = 2e-2

    /// Values spaced 0.05 apart in a seeded order: no two within a finite-difference step, so
    /// max pooling never switches winners and ReLU never crosses 0.
    static func distinctInput(_ shape: [Int], seed: UInt64) -> Tensor {
        let count = shape.reduce(1, *)
        var values = (0..<count).map { Float($0) * 0.05 - Float(count) * 0.025 + 0.0125 }
        var generator = SeededGenerator(seed: seed)
        generator.shuffle(&values)
        return Tensor(shape: shape, scalars: values)
    }

    @Test(arguments: [(1, 0), (1, 1), (2, 1), (2, 0), (3, 2)])
    func conv2DGradients(stride: Int, padding: Int) {
        var generator = SeededGenerator(seed: 21)
        let layer = Conv2D(inputChannels: 3, outputChannels: 4, kernelSize: 3, stride: stride, padding: padding, using: &generator)
        let result = GradientCheck.check(layer: layer, input: GradientCheckTests.input([2, 6, 5, 3], seed: 8))
        #expect(result.input < Self.tolerance, "input \(result.input)")
        for (name, error) in result.parameters { #expect(error < Self.tolerance, "\(name) \(error)") }
        #expect(result.parameters.count == 2)
    }

    /// The convolution equals the direct sum over the kernel window, zero padding included.
    @Test func conv2DMatchesTheDirectSum() {
        var generator = SeededGenerator(seed: 22)
        let layer = Conv2D(inputChannels: 2, outputChannels: 3, kernelSize: 3, stride: 2, padding: 1, bias: false, using: &generator)
        let x = GradientCheckTests.input([2, 5, 4, 2], seed: 9)
        let y = layer.forward(x, mode: .inference)
        #expect(y.shape == [2, 3, 2, 3])
        let w = layer.weight.value
        for n in 0..<2 { for oy in 0..<3 { for ox in 0..<2 { for o in 0..<3 {
            var sum: Float = 0
            for ky in 0..<3 { for kx in 0..<3 { for c in 0..<2 {
                let (iy, ix) = (oy * 2 - 1 + ky, ox * 2 - 1 + kx)
                guard iy >= 0, iy < 5, ix >= 0, ix < 4 else { continue }
                sum += x[((n * 5 + iy) * 4 + ix) * 2 + c] * w[o * 18 + (ky * 3 + kx) * 2 + c]
            } } }
            #expect(abs(y[((n * 3 + oy) * 2 + ox) * 3 + o] - sum) < 1e-5)
        } } } }
    }

    /// dX and dW equal the direct sums of the forward's adjoint (zero padding, strides, odd
    /// extents), dW accumulates, and one layer serves several batch sizes in turn.
    @Test(arguments: [(1, 1, 7, 6), (2, 1, 7, 7), (2, 0, 6, 5), (3, 2, 8, 5)])
    func conv2DBackwardMatchesTheDirectSums(stride: Int, padding: Int, height: Int, width: Int) {
        var generator = SeededGenerator(seed: 25)
        let (c, o, k) = (5, 6, 3)
        let layer = Conv2D(inputChannels: c, outputChannels: o, kernelSize: k, stride: stride, padding: padding, bias: false, using: &generator)
        let (ho, wo) = (layer.outputExtent(height), layer.outputExtent(width))
        for n in [3, 2, 3] {
            let x = GradientCheckTests.input([n, height, width, c], seed: UInt64(30 + n))
            let g = GradientCheckTests.input([n, ho, wo, o], seed: UInt64(40 + n))
            layer.weight.gradient.fill(0.5)
            #expect(layer.forward(x, mode: .training).shape == [n, ho, wo, o])
            let dx = layer.backward(g, inputGradient: .needed)!
            var expectedDX = [Double](repeating: 0, count: x.count), expectedDW = [Double](repeating: 0.5, count: layer.weight.value.count)
            let w = layer.weight.value
            for image in 0..<n { for oy in 0..<ho { for ox in 0..<wo { for out in 0..<o {
                let gradient = Double(g[((image * ho + oy) * wo + ox) * o + out])
                for ky in 0..<k { for kx in 0..<k {
                    let (iy, ix) = (oy * stride - padding + ky, ox * stride - padding + kx)
                    guard iy >= 0, iy < height, ix >= 0, ix < width else { continue }
                    for channel in 0..<c {
                        let (xi, wi) = (((image * height + iy) * width + ix) * c + channel, out * k * k * c + (ky * k + kx) * c + channel)
                        expectedDX[xi] += gradient * Double(w[wi])
                        expectedDW[wi] += gradient * Double(x[xi])
                    }
                } }
            } } } }
            #expect(zip(dx.scalars, expectedDX).allSatisfy { abs(Double($0) - $1) < 1e-4 }, "dX, batch \(n)")
            #expect(zip(layer.weight.gradient.scalars, expectedDW).allSatisfy { abs(Double($0) - $1) < 1e-4 }, "dW, batch \(n)")
        }
    }

    /// Gradient checks with odd extents (floor mode leaves the last row or column uncovered:
    /// their gradient must be 0).
    @Test(arguments: [[2, 5, 4, 3], [1, 4, 5, 2], [1, 5, 5, 1]])
    func maxPoolGradients(shape: [Int]) {
        let result = GradientCheck.check(layer: MaxPool2D(), input: Self.distinctInput(shape, seed: 13))
        #expect(result.input < Self.tolerance)
    }

    @Test func maxPoolWinners() {
        let x = Self.distinctInput([2, 5, 4, 3], seed: 13)
        // Floor mode: 5×4 → 2×2; each output is its window's maximum.
        let y = MaxPool2D().forward(x, mode: .inference)
        #expect(y.shape == [2, 2, 2, 3])
        for n in 0..<2 { for oy in 0..<2 { for ox in 0..<2 { for c in 0..<3 {
            let window = [(0, 0), (0, 1), (1, 0), (1, 1)].map { x[((n * 5 + 2 * oy + $0.0) * 4 + 2 * ox + $0.1) * 3 + c] }
            #expect(y[((n * 2 + oy) * 2 + ox) * 3 + c] == window.max()!)
        } } } }
    }

    @Test func batchNormGradientsWithBatchStatistics() {
        let layer = BatchNorm2D(channels: 3)
        layer.gamma.value = Tensor(shape: [3], scalars: [1.5, 0.7, -1.2])
        layer.beta.value = Tensor(shape: [3], scalars: [0.1, -0.3, 0.2])
        let result = GradientCheck.check(layer: layer, input: GradientCheckTests.input([2, 3, 2, 3], seed: 14), lossMode: .training)
        #expect(result.input < Self.tolerance, "input \(result.input)")
        for (name, error) in result.parameters { #expect(error < Self.tolerance, "\(name) \(error)") }
    }

    @Test func batchNormNormalisesPerChannelAndTracksRunningStatistics() {
        let layer = BatchNorm2D(channels: 2, epsilon: 1e-10, momentum: 0.1)
        // Channel 0: 1, 3, 5, 7 (mean 4, biased variance 5); channel 1: all 2.
        let x = Tensor(shape: [2, 1, 2, 2], scalars: [1, 2, 3, 2, 5, 2, 7, 2])
        let y = layer.forward(x, mode: .training)
        let s = 1 / Float(5).squareRoot()
        for (index, expected) in [-3 * s, 0, -s, 0, s, 0, 3 * s, 0].enumerated() { #expect(abs(y[index] - expected) < 1e-6) }
        // Running: 0.9·0 + 0.1·4, and the unbiased variance 20/3.
        #expect(abs(layer.runningMean[0] - 0.4) < 1e-6 && abs(layer.runningVariance[0] - (0.9 + 0.1 * 20 / 3)) < 1e-5)
        // Inference uses the stored statistics.
        layer.setStatistics(mean: [4, 2], variance: [5, 1])
        let z = layer.forward(x, mode: .inference)
        #expect(abs(z[0] + 3 * s) < 1e-6 && abs(z[1]) < 1e-6)
    }

    @Test func channelsLastPermutesAndBack() {
        let layer = ChannelsLast(channels: 2, height: 2, width: 3)
        let x = Tensor(shape: [1, 12], scalars: (0..<12).map(Float.init))
        let y = layer.forward(x, mode: .training)
        #expect(y.shape == [1, 2, 3, 2])
        #expect(y.scalars == [0, 6, 1, 7, 2, 8, 3, 9, 4, 10, 5, 11])
        #expect(layer.backward(y, inputGradient: .needed)! == x)
        let result = GradientCheck.check(layer: layer, input: GradientCheckTests.input([2, 12], seed: 15))
        #expect(result.input < Self.tolerance)
    }

    /// A whole block (conv → ReLU → pool → BN) and a head, checked end to end.
    /// NOTE: a weight perturbation moves every pre-activation, so for some inputs a ReLU or
    /// max-pool kink lies within one step and the difference quotient is meaningless there;
    /// this input (seed 17) has none. Without ReLU and pooling every seed passes.
    @Test func cnnBlockEndToEnd() {
        var generator = SeededGenerator(seed: 24)
        let network = Sequential([
            ChannelsLast(channels: 2, height: 6, width: 6),
            Conv2D(inputChannels: 2, outputChannels: 3, kernelSize: 3, padding: 1, bias: false, using: &generator),
            ReLU(), MaxPool2D(), BatchNorm2D(channels: 3), Flatten(),
            Linear(inputSize: 27, outputSize: 4, using: &generator),
        ])
        let result = GradientCheck.check(layer: network, input: Self.distinctInput([3, 72], seed: 17), step: 1e-3, lossMode: .training)
        #expect(result.input < 5e-2, "input \(result.input)")
        for (name, error) in result.parameters { #expect(error < 5e-2, "\(name) \(error)") }
    }
}
